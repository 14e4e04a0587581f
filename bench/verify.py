"""Relying-party verification throughput: a JPKI signature (CMS, card-made) verified end to end.

    .venv/bin/python bench/verify.py [--seconds 5]

One run, one machine: a JPKI home served by `jlis serve` on loopback (its CAs answer registered verifiers
only; the benchmark registers one), a card issued to a resident, a document signed by the card. Then, in
this process, interleaved in short batches:

- raw: the signature math alone on the same CMS (RSA PKCS#1 v1.5 over the DER signed attributes, and the
  messageDigest over the content) — what any verifier must do at least;
- CRL: ``jpki.verify.verify_signature`` with path validation and revocation from the CA's CRLs, fetched
  once over HTTP with the verifier token and then served from the CRL cache until nextUpdate;
- OCSP: the same with status from the responder on loopback, asked for every verification (bearer token).

Prints verifications/s and each one's ratio to raw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
from asn1crypto import cms  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from jpki import CardSigner, FourInfo, Jpki, KeySlot, Resident, Sex  # noqa: E402
from jpki.verifiers import VerifierRegistry  # noqa: E402
from jpki.verify import jpki_validator, verify_signature  # noqa: E402
from pki.cms import sign_cms  # noqa: E402
from pki.runtime import Pki  # noqa: E402
from pki.verify import CrlCache, RevocationSettings, Verdict  # noqa: E402

DOCUMENT = "確定申告書 令和8年分\n".encode() * 20


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("jlis serve exited")
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("jlis serve did not answer")


def raw_verifier(signature: bytes, certificate: x509.Certificate) -> Callable[[], None]:
    info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    signed_attrs = info["signed_attrs"].untag().dump()
    sig = bytes(info["signature"].native)
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)

    def verify() -> None:
        hashlib.sha256(DOCUMENT).digest()
        key.verify(sig, signed_attrs, padding.PKCS1v15(), hashes.SHA256())

    return verify


def interleaved(pairs: dict[str, Callable[[], None]], seconds: float) -> dict[str, float]:
    spent = dict.fromkeys(pairs, 0.0)
    counts = dict.fromkeys(pairs, 0)
    deadline = time.perf_counter() + seconds * len(pairs)
    while time.perf_counter() < deadline:
        for name, fn in pairs.items():
            start = time.perf_counter()
            while time.perf_counter() - start < 0.1:
                fn()
                counts[name] += 1
            spent[name] += time.perf_counter() - start
    return {name: counts[name] / spent[name] for name in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        root = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        Pki.initialise(root / "home", base_url=url).close()
        with (root / "out.txt").open("wb") as out:
            command = [
                sys.executable,
                "-m",
                "jlis.cli",
                "serve",
                "--home",
                str(root / "home"),
                "--port",
                str(port),
            ]
            proc = subprocess.Popen([*command, "--no-access-log"], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(url, proc)
            with Jpki.open(root / "home") as jpki:
                token = (
                    VerifierRegistry(jpki.pki.store, jpki.clock).add("Bench PF", "pf", actor="bench").token
                )
                info = FourInfo(
                    name="山田　花子", birth=dt.date(1985, 4, 1), sex=Sex.female, address="東京都千代田区1番"
                )
                jpki.add_resident(Resident("12345678901", info, "131016"), actor="bench")
                card = jpki.issue_card("12345678901", signing_pin="ABC123", auth_pin="1234", actor="bench")
                assert card.signing is not None
                with jpki.open_card(card.card_id) as on_card:
                    session = on_card.session()
                    session.verify_pin(KeySlot.SIGNING, "ABC123")
                    signature = sign_cms(DOCUMENT, CardSigner(session, KeySlot.SIGNING), card.signing)
                anchor = jpki.sign_ca.certificate
            by_crl = jpki_validator(
                [anchor], revocation=RevocationSettings(ocsp=False, token=token), crl_cache=CrlCache()
            )
            by_ocsp = jpki_validator([anchor], revocation=RevocationSettings(fetch_crls=False, token=token))
            for validator in (by_crl, by_ocsp):
                first = verify_signature(signature, validator, content=DOCUMENT)
                if first.verdict is not Verdict.valid:
                    raise SystemExit(f"verification failed: {first.reason}")

            def crl() -> None:
                verify_signature(signature, by_crl, content=DOCUMENT)

            def ocsp() -> None:
                verify_signature(signature, by_ocsp, content=DOCUMENT)

            rates = interleaved(
                {"raw": raw_verifier(signature, card.signing), "crl": crl, "ocsp": ocsp}, args.seconds
            )
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(
        f"# JPKI CMS signature ({len(signature)} bytes), RSA-2048, {args.seconds:.0f} s per side, interleaved"
    )
    print(f"raw signature math       {rates['raw']:10.0f} /s")
    print(f"verify + cached CRL      {rates['crl']:10.1f} /s   ratio {rates['crl'] / rates['raw']:.4f}")
    print(f"verify + OCSP (loopback) {rates['ocsp']:10.1f} /s   ratio {rates['ocsp'] / rates['raw']:.4f}")


if __name__ == "__main__":
    main()
