"""Signing throughput through our Signer vs the raw libraries, in the same run (not a test).

    .venv/bin/python bench/hsm.py [--seconds 2] [--rounds 3]

1. software Signer vs pyca/cryptography signing directly with the same key object;
2. SoftHSM Signer (session pool) vs raw python-pkcs11 on one persistent logged-in session;
3. SoftHSM: two concurrent signers vs one, as threads (python-pkcs11 releases the GIL around every C_*
   call, so threads run in parallel inside SoftHSM) and, as a cross-check, as two processes.

Raw and ours alternate in short batches for ``--rounds`` x ``--seconds`` each, so a noisy neighbour slows
both sides alike instead of deciding the ratio. Goals (issue #2): software >= 0.95 of raw,
SoftHSM >= 0.90 of raw, two SoftHSM signers >= 1.6x one.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# This file is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # for bench_support, after the package paths

from bench_support import threaded_rate  # noqa: E402  (path fixed above)

from hsm import KeyKind  # noqa: E402  (after the path fix above)

if TYPE_CHECKING:
    from hsm import Signer

PIN = "123456"
DATA = bytes(range(256)) * 4  # 1 KiB, about the size of a certificate's TBS


def setup_softhsm() -> Path:
    """A private SoftHSM with one token, configured before the module is loaded."""
    root = Path(tempfile.mkdtemp(prefix="jlis-bench-"))
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", "87654321"],
        check=True,
        capture_output=True,
    )
    return root


def interleaved(pairs: dict[str, Callable[[], object]], seconds: float, rounds: int) -> dict[str, float]:
    """Rates of the contenders measured in alternating short batches (about 20 ms each).

    Alternating finely puts every slow phase of a shared machine on both sides alike, so the ratio stays
    honest where back-to-back runs of seconds each would not.
    """
    batch = {}
    for name, fn in pairs.items():  # size the batches and warm up
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < 0.05:
            fn()
            n += 1
        batch[name] = max(1, int(n * 0.02 / (time.perf_counter() - start)))
    spent = dict.fromkeys(pairs, 0.0)
    calls = dict.fromkeys(pairs, 0)
    deadline = time.perf_counter() + seconds * rounds * len(pairs)
    while time.perf_counter() < deadline:
        for name, fn in pairs.items():
            k = batch[name]
            start = time.perf_counter()
            for _ in range(k):
                fn()
            spent[name] += time.perf_counter() - start
            calls[name] += k
    return {name: calls[name] / spent[name] for name in pairs}


def _process_worker(conf: str, label: str, seconds: float, start_at: float, out: mp.Queue[int]) -> None:
    os.environ["SOFTHSM2_CONF"] = conf
    from hsm import open_backend

    with open_backend("pkcs11:token=bench", environ={"JLIS_PKCS11_PIN": PIN}) as backend:
        signer = backend.signer(label)
        signer.sign(DATA)
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            signer.sign(DATA)
            n += 1
    out.put(n)


def process_rate(conf: str, label: str, processes: int, seconds: float) -> float:
    """Total signatures per second of ``processes`` spawned processes (each its own login and session)."""
    ctx = mp.get_context("spawn")  # PKCS#11 state must not cross a fork
    out: mp.Queue[int] = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [
        ctx.Process(target=_process_worker, args=(conf, label, seconds, start_at, out))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    total = sum(out.get(timeout=seconds + 60) for _ in procs)
    for proc in procs:
        proc.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per comparison")
    args = parser.parse_args()
    root = setup_softhsm()

    from cryptography.hazmat.primitives import serialization
    from pkcs11 import ObjectClass

    from hsm import open_backend
    from hsm.p11 import Pkcs11Backend

    rows: list[tuple[str, str, float, float, float]] = []
    passphrase = "bench passphrase"
    store = root / "filekeys"

    print(
        f"# hsm benchmark: {args.rounds} rounds x {args.seconds:g} s, 1 KiB messages, cpus={os.cpu_count()}"
    )
    with open_backend(f"file:{store}", environ={"JLIS_KEY_PASSPHRASE": passphrase}) as soft:
        for kind in (KeyKind.RSA2048, KeyKind.P256):
            signer = soft.generate(f"soft-{kind.value}", kind)
            pem = (store / f"soft-{kind.value}.key.pem").read_bytes()
            raw = pyca_direct(serialization.load_pem_private_key(pem, password=passphrase.encode()))
            got = interleaved({"raw": raw, "ours": signer_call(signer)}, args.seconds, args.rounds)
            rows.append(("software", kind.value, got["raw"], got["ours"], 0.95))

    backend = open_backend("pkcs11:token=bench", environ={"JLIS_PKCS11_PIN": PIN})
    assert isinstance(backend, Pkcs11Backend)
    raw_session = (
        backend.pool.token.open()
    )  # shares the pool's login: one persistent session, as raw code keeps
    threads: list[tuple[str, float, float]] = []
    with backend:
        for kind in (KeyKind.RSA2048, KeyKind.P256):
            signer = backend.generate(f"hsm-{kind.value}", kind)
            key = raw_session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=signer.label)
            got = interleaved(
                {"raw": pkcs11_direct(key, kind), "ours": signer_call(signer)}, args.seconds, args.rounds
            )
            rows.append(("softhsm", kind.value, got["raw"], got["ours"], 0.90))
            if (
                not kind.is_rsa
            ):  # raw r||s is not yet an X.509 signature: also compare with raw + DER encoding
                raw_der = pkcs11_direct(key, kind, der=True)
                got = interleaved({"raw": raw_der, "ours": signer_call(signer)}, args.seconds, args.rounds)
                rows.append(("softhsm", f"{kind.value}+der", got["raw"], got["ours"], 0.90))
            one = max(threaded_rate(signer_call(signer), 1, args.seconds) for _ in range(args.rounds))
            two = max(threaded_rate(signer_call(signer), 2, args.seconds) for _ in range(args.rounds))
            threads.append((kind.value, one, two))
        raw_session.close()
    conf = os.environ["SOFTHSM2_CONF"]
    procs = {}
    for kind_name, _, _ in threads:
        label = f"hsm-{kind_name}"
        procs[kind_name] = process_rate(conf, label, 2, args.seconds) / process_rate(
            conf, label, 1, args.seconds
        )
    report(rows, threads, procs)


def signer_call(signer: Signer) -> Callable[[], object]:
    return lambda: signer.sign(DATA)


def pyca_direct(key: object) -> Callable[[], object]:
    """The reference: pyca signing with the very key object the software Signer wraps."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        pad, sha = padding.PKCS1v15(), hashes.SHA256()
        return lambda: key.sign(DATA, pad, sha)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ecdsa = ec.ECDSA(hashes.SHA256())
    return lambda: key.sign(DATA, ecdsa)


def pkcs11_direct(key: Any, kind: KeyKind, der: bool = False) -> Callable[[], object]:
    """The reference: python-pkcs11 on one session. SoftHSM has no CKM_ECDSA_SHA256, so ECDSA hashes here;
    with ``der`` the r||s result is also DER-encoded (pyca's encoder), as X.509 needs."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from pkcs11 import Mechanism

    if kind.is_rsa:
        return lambda: key.sign(DATA, mechanism=Mechanism.SHA256_RSA_PKCS)
    if not der:
        return lambda: key.sign(hashlib.sha256(DATA).digest(), mechanism=Mechanism.ECDSA)

    def sign_der() -> bytes:
        raw: bytes = key.sign(hashlib.sha256(DATA).digest(), mechanism=Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    return sign_der


def report(
    rows: list[tuple[str, str, float, float, float]],
    threads: list[tuple[str, float, float]],
    procs: dict[str, float],
) -> None:
    print(f"\n{'backend':9} {'key':8} {'raw/s':>10} {'ours/s':>10} {'ratio':>7}  goal")
    for name, kind, raw_rate, ours, goal in rows:
        ratio = ours / raw_rate
        verdict = "ok" if ratio >= goal else "BELOW"
        print(f"{name:9} {kind:8} {raw_rate:10.0f} {ours:10.0f} {ratio:7.3f}  >= {goal:.2f} {verdict}")
    print(
        f"\n{'softhsm':9} {'key':8} {'1 thread':>10} {'2 threads':>10} {'x':>7}  goal      2 procs / 1 proc"
    )
    for kind, one, two in threads:
        x = two / one
        verdict = "ok" if x >= 1.6 else "BELOW"
        print(f"{'':9} {kind:8} {one:10.0f} {two:10.0f} {x:7.2f}  >= 1.60 {verdict}   {procs[kind]:.2f}x")
    print(
        "\nthreads: python-pkcs11 releases the GIL around every C_* call and the module runs with "
        "CKF_OS_LOCKING_OK,\nso a pool of sessions signs in parallel inside one process."
    )


if __name__ == "__main__":
    main()
