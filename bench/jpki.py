"""JPKI mass issuance: residents → My Number Cards (two on-card key pairs each) → two certificates per card.

    .venv/bin/python bench/jpki.py [--residents 10000] [--token file|softhsm] [--chunk 200] [--workers 2]

Registers N residents (adults, so every card gets a signing and an auth certificate), then issues their
cards with ``Jpki.issue_cards`` (batch keys, so it is the resumable path ``jlis jpki issue-batch`` runs):
card keys generated in the card's token, certificates issued in chunks, written to the card, recorded and
linked. Reports cards/s and certificates/s, and the same run's reference: raw pyca build + sign of 2N
certificates of the same shape with an RSA-2048 key (no checks, no storage, no card keys). Also the share
of time spent making the cards (key generation and PIN hashing) versus the rest, measured separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from jpki.card import MyNumberCard  # noqa: E402
from jpki.fourinfo import FourInfo, Sex  # noqa: E402
from jpki.lifecycle import CardOrder, Jpki  # noqa: E402
from jpki.registry import Resident  # noqa: E402
from pki.runtime import Pki  # noqa: E402

DEFINITION = Path(__file__).resolve().parents[1] / "tests" / "jpki" / "support.py"


def definition_text() -> str:
    namespace: dict[str, object] = {}
    source = DEFINITION.read_text()
    start = source.index('JPKI_DEFINITION = """')
    end = source.index('"""', start + 21) + 3
    exec(source[start:end], namespace)  # the test suite's JPKI-only definition, one source of truth
    return str(namespace["JPKI_DEFINITION"]).replace("ACCESS", "registered")


def raw_reference(n: int) -> float:
    """Seconds for pyca to build and sign ``n`` certificates like ours (RSA-2048 issuer and subjects)."""
    issuer_key = rsa.generate_private_key(65537, 2048)
    subject_keys = [rsa.generate_private_key(65537, 2048).public_key() for _ in range(4)]
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    for i in range(n):
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{i:023d}"),
            ]
        )
        (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(subject_keys[i % 4])
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1800))
            .add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_keys[i % 4]), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )
    return time.perf_counter() - start


def card_making(n: int, token: str, root: Path) -> float:
    """Seconds to make ``n`` bare cards (key pairs + PIN hashes), nothing certified."""
    start = time.perf_counter()
    for i in range(n):
        MyNumberCard.create(
            root,
            f"probe{i}",
            holder_birth=dt.date(1980, 5, 6),
            issued_on=dt.date(2026, 11, 26),
            signing_pin="ABC123",
            auth_pin="1234",
            token_kind=token,
        ).close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--token", choices=["file", "softhsm"], default="file")
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="processes making file-token cards")
    args = parser.parse_args()
    n = args.residents
    with tempfile.TemporaryDirectory(prefix="bench-jpki-") as tmp:
        root = Path(tmp)
        if args.token == "softhsm":  # a private SoftHSM store: one token per card, made in this process
            (root / "tokens").mkdir()
            conf = root / "softhsm2.conf"
            conf.write_text(
                f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
            )
            os.environ["SOFTHSM2_CONF"] = str(conf)
        (root / "jpki.toml").write_text(definition_text())
        Pki.initialise(root / "home", definition=root / "jpki.toml").close()
        jpki = Jpki.open(root / "home")
        try:
            t0 = time.perf_counter()
            for i in range(n):
                info = FourInfo(
                    name="山田　花子",
                    birth=dt.date(1980, 5, 6),
                    sex=Sex.female,
                    address=f"東京都千代田区霞が関{i}番",
                )
                jpki.add_resident(Resident(f"{20000000000 + i}", info, "131016"), actor="bench")
            registered = time.perf_counter() - t0
            orders = [
                CardOrder(
                    f"{20000000000 + i}", "ABC123", "1234", batch_key=f"bench:{i}", token_kind=args.token
                )
                for i in range(n)
            ]
            t1 = time.perf_counter()
            cards = jpki.issue_cards(orders, actor="bench", chunk=args.chunk, workers=args.workers)
            issuing = time.perf_counter() - t1
        finally:
            jpki.close()
        probe = min(n, 200 if args.token == "file" else 50)
        making = card_making(probe, args.token, root / "probe") / probe * n
    certs = sum(1 + (c.signing is not None) for c in cards)
    raw = raw_reference(certs)
    print(f"# {n} residents, token {args.token}, chunk {args.chunk}, card-making workers {args.workers}")
    print(f"registering residents   {n / registered:10.0f} residents/s")
    rate = f"{certs / issuing:.1f} certificates/s, {issuing:.1f} s"
    print(f"issuing cards           {n / issuing:10.1f} cards/s   ({rate})")
    print(f"raw pyca, {certs} certs  {certs / raw:10.1f} certificates/s   ({raw:.1f} s)")
    print(f"ratio (ours / raw pyca signing of the same certificates): {raw / issuing:.3f}")
    workers = args.workers if args.token == "file" else 1
    share = f"{making:.1f} s on one core, {making / workers:.1f} s over {workers} processes"
    print(f"card making alone (keys + PINs), estimated from {probe}: {share}")
    rest = max(issuing - making / workers, 1e-9)
    print(f"everything but card making: {rest:.1f} s; ratio to raw pyca: {raw / rest:.3f}")


if __name__ == "__main__":
    main()
