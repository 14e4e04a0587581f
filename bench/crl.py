"""CRL generation at national scale: ``encode_crl`` vs ``openssl ca -gencrl``, in the same run (not a test).

    .venv/bin/python bench/crl.py [--entries 1000000] [--delta 1000] [--pyca 100000] [--seed 2026]

1. a complete CRL of ``--entries`` revoked certificates (random 16-byte positive serials, revocation times
   spread over two years, mixed reasons, some invalidity dates): our build + sign time, and the time to
   make the RevokedEntry rows the store would stream;
2. ``openssl ca -gencrl`` over the same entries (an ``index.txt`` written here), same CA key and
   certificate; both CRLs are parsed and must list the same serials with the same reasons;
3. a delta CRL of ``--delta`` entries revoked after that base;
4. for reference, pyca's CertificateRevocationListBuilder (its bulk constructor) over ``--pyca`` entries.

The CA key lives in a ``file:`` key store; OpenSSL reads the same encrypted PKCS#8 file with the store
passphrase (``-passin env:``), so no unencrypted key is written. Goals (issue #3): faster than OpenSSL;
delta < 0.2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

# This folder holds bench/hsm.py, which would shadow the hsm package: keep it off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from cryptography import x509  # noqa: E402  (after the path fix above)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from hsm import KeyKind, Signer, builder_arguments, open_backend  # noqa: E402
from pki.crl import CrlSpec, RevokedEntry, encode_crl  # noqa: E402
from pki.model import RevocationReason  # noqa: E402

T = TypeVar("T")
NOW = dt.datetime(2026, 11, 26, 3, 0, 0, tzinfo=dt.UTC)
LABEL = "bench-ca"
PASSPHRASE_ENV = "JLIS_KEY_PASSPHRASE"
ISSUER = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jlis-pki bench"),
        x509.NameAttribute(NameOID.COMMON_NAME, "CRL bench CA"),
    ]
)
REASONS: list[tuple[RevocationReason | None, str]] = [
    (None, ""),
    (RevocationReason.key_compromise, "keyCompromise"),
    (RevocationReason.ca_compromise, "CACompromise"),
    (RevocationReason.affiliation_changed, "affiliationChanged"),
    (RevocationReason.superseded, "superseded"),
    (RevocationReason.cessation_of_operation, "cessationOfOperation"),
]
"""Reasons both sides write the same way. (OpenSSL adds a deprecated holdInstructionCode to
certificateHold entries and does not know privilegeWithdrawn, so those stay out of the mix.)"""
INVALIDITY_SHARE = 0.05
"""Share of keyCompromise entries with an invalidity date (OpenSSL's ``keyTime,<time>``)."""


@dataclass(frozen=True)
class Row:
    """One revocation as generated: what the store would hold (serials as lowercase hex text)."""

    serial_hex: str
    revoked_at: dt.datetime
    reason: RevocationReason | None
    openssl_reason: str
    invalidity_date: dt.datetime | None


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def make_rows(count: int, rng: random.Random, since: dt.datetime, until: dt.datetime) -> list[Row]:
    """``count`` revocations with distinct random 127-bit serials, times spread over [since, until),
    made in serial order as a database cursor would hand them over (so memory order is stream order)."""
    serials: set[int] = set()
    while len(serials) < count:
        serials.add(rng.getrandbits(127) or 1)
    span = int((until - since).total_seconds())
    rows = []
    for serial in sorted(serials):  # the store streams entries sorted by serial
        revoked_at = since + dt.timedelta(seconds=rng.randrange(span))
        reason, text = rng.choice(REASONS)
        invalidity = None
        if reason is RevocationReason.key_compromise and rng.random() < INVALIDITY_SHARE:
            invalidity = revoked_at - dt.timedelta(days=rng.randrange(1, 30))
        rows.append(Row(format(serial, "x"), revoked_at, reason, text, invalidity))
    return rows


def to_entries(rows: Iterable[Row], first_seq: int = 1) -> Iterator[RevokedEntry]:
    """RevokedEntry rows as the store's ``revoked_entries`` streams them (serials parsed from hex)."""
    for seq, row in enumerate(rows, start=first_seq):
        yield RevokedEntry(
            int(row.serial_hex, 16), row.revoked_at, row.reason, row.invalidity_date, False, seq
        )


def make_ca(signer: Signer, directory: Path) -> Path:
    """The CA's self-signed certificate, as the PEM OpenSSL needs."""
    certificate = (
        x509.CertificateBuilder()
        .subject_name(ISSUER)
        .issuer_name(ISSUER)
        .public_key(signer.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=3 * 365))
        .not_valid_after(NOW + dt.timedelta(days=10 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer.public_key), critical=False)
        .sign(**builder_arguments(signer))
    )
    path = directory / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def spec(signer: Signer, crl_number: int, **changes: object) -> CrlSpec:
    fields: dict[str, object] = {
        "issuer": ISSUER,
        "this_update": NOW,
        "next_update": NOW + dt.timedelta(days=7),
        "crl_number": crl_number,
        "authority_key_id": signer.public_key,
    }
    fields.update(changes)
    return CrlSpec(**fields)  # type: ignore[arg-type]


# -- OpenSSL ----------------------------------------------------------------------------------------------


def write_index(rows: Sequence[Row], path: Path) -> None:
    """OpenSSL's CA database: ``R, expiry, revocation[,reason[,time]], SERIAL, unknown, subject``."""
    expiry = (NOW + dt.timedelta(days=365)).strftime("%y%m%d%H%M%SZ")
    with path.open("w") as out:
        for row in rows:
            revocation = row.revoked_at.strftime("%y%m%d%H%M%SZ")
            if row.invalidity_date is not None:
                revocation += ",keyTime," + row.invalidity_date.strftime("%Y%m%d%H%M%SZ")
            elif row.openssl_reason:
                revocation += "," + row.openssl_reason
            serial = row.serial_hex.upper()
            serial = serial if len(serial) % 2 == 0 else "0" + serial
            out.write(f"R\t{expiry}\t{revocation}\t{serial}\tunknown\t/CN=x\n")
    path.with_name(path.name + ".attr").write_text("unique_subject = no\n")


def write_config(directory: Path, key_file: Path, ca_pem: Path) -> Path:
    """A minimal ``openssl ca`` configuration: AKI and cRLNumber, as our CRL has."""
    (directory / "crlnumber").write_text("01\n")
    config = directory / "ca.cnf"
    config.write_text(
        "[ ca ]\ndefault_ca = bench\n"
        "[ bench ]\n"
        f"database = {directory / 'index.txt'}\n"
        f"certificate = {ca_pem}\nprivate_key = {key_file}\n"
        f"crlnumber = {directory / 'crlnumber'}\n"
        "default_md = sha256\ndefault_crl_days = 7\nunique_subject = no\n"
        "crl_extensions = crl_ext\n"
        "[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n"
    )
    return config


def openssl_gencrl(config: Path, out: Path, passphrase: str) -> float:
    """Wall time of ``openssl ca -gencrl`` (process start, reading index.txt, building, signing)."""
    env = {**os.environ, PASSPHRASE_ENV: passphrase}
    command = ["openssl", "ca", "-gencrl", "-batch", "-config", str(config), "-out", str(out)]
    command += ["-passin", f"env:{PASSPHRASE_ENV}"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


# -- checks -----------------------------------------------------------------------------------------------


def compare(
    ours: x509.CertificateRevocationList, theirs: x509.CertificateRevocationList, sample: set[int]
) -> str:
    """Both CRLs list the same serials, and the ``sample`` entries agree on date, reason and invalidity
    date. One pass over each CRL: pyca's lookup by serial is a linear scan."""
    our_serials, our_sample = _scan(ours, sample)
    their_serials, their_sample = _scan(theirs, sample)
    if our_serials != their_serials:
        raise SystemExit(f"MISMATCH: {len(our_serials ^ their_serials)} serials differ")
    for serial in sample:
        if our_sample.get(serial) != their_sample.get(serial):
            raise SystemExit(
                f"MISMATCH at {serial:x}: {our_sample.get(serial)} != {their_sample.get(serial)}"
            )
    return f"same {len(our_serials):,} serials, {len(sample):,} sampled entries equal"


def _scan(
    crl: x509.CertificateRevocationList, sample: set[int]
) -> tuple[set[int], dict[int, tuple[object, ...]]]:
    serials: set[int] = set()
    described: dict[int, tuple[object, ...]] = {}
    for revoked in crl:
        serial = revoked.serial_number
        serials.add(serial)
        if serial in sample:
            described[serial] = _describe(revoked)
    return serials, described


def _describe(revoked: x509.RevokedCertificate) -> tuple[object, ...]:
    extensions = {ext.oid.dotted_string: ext.value for ext in revoked.extensions}
    reason = extensions.get("2.5.29.21")
    invalidity = extensions.get("2.5.29.24")
    return (
        revoked.revocation_date_utc,
        reason.reason if isinstance(reason, x509.CRLReason) else None,
        invalidity.invalidity_date_utc if isinstance(invalidity, x509.InvalidityDate) else None,
    )


def openssl_accepts(der_path: Path, ca_pem: Path) -> bool:
    result = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(der_path), "-CAfile", str(ca_pem), "-noout"],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0 and "verify OK" in result.stderr


# -- pyca reference -------------------------------------------------------------------------------------


def pyca_bulk(rows: Sequence[Row], signer: Signer) -> float:
    """pyca's builder through its bulk path (the constructor's list; the chained add is quadratic)."""
    start = time.perf_counter()
    revoked = [_pyca_revoked(row) for row in rows]
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=ISSUER,
        last_update=NOW,
        next_update=NOW + dt.timedelta(days=7),
        extensions=[
            x509.Extension(
                x509.AuthorityKeyIdentifier.oid,
                False,
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key),
            ),
            x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(1)),
        ],
        revoked_certificates=revoked,
    )
    builder.sign(**builder_arguments(signer))
    return time.perf_counter() - start


def _pyca_revoked(row: Row) -> x509.RevokedCertificate:
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(int(row.serial_hex, 16))
        .revocation_date(row.revoked_at)
    )
    if row.reason is not None:
        builder = builder.add_extension(x509.CRLReason(row.reason.to_x509()), critical=False)
    if row.invalidity_date is not None:
        builder = builder.add_extension(x509.InvalidityDate(row.invalidity_date), critical=False)
    return builder.build()


# -- the run ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries of the complete CRL")
    parser.add_argument("--delta", type=int, default=1_000, help="new entries in the delta CRL")
    parser.add_argument("--pyca", type=int, default=100_000, help="entries for pyca's builder (0: skip)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    passphrase = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="jlis-bench-crl-") as tmp:
        directory = Path(tmp)
        keys = directory / "keys"
        with open_backend(f"file:{keys}", environ={PASSPHRASE_ENV: passphrase}) as backend:
            signer = backend.generate(LABEL, KeyKind.RSA2048)
            run(args, rng, signer, directory, keys / f"{LABEL}.key.pem", passphrase)


def run(
    args: argparse.Namespace,
    rng: random.Random,
    signer: Signer,
    directory: Path,
    key_file: Path,
    passphrase: str,
) -> None:
    ca_pem = make_ca(signer, directory)
    print(f"{args.entries:,} revoked entries, RSA-2048 / SHA-256, {os.cpu_count()} CPUs")
    rows = make_rows(args.entries, rng, NOW - dt.timedelta(days=730), NOW - dt.timedelta(hours=1))
    der, t_ours, t_stream = bench_ours(rows, signer)
    t_openssl, theirs = bench_openssl(rows, directory, key_file, ca_pem, passphrase)
    line("ratio openssl / ours", t_openssl / t_ours, "x", "goal > 1")
    line("ratio openssl / (rows -> CRL)", t_openssl / t_stream, "x")
    check_same(der, theirs, rows, rng, signer, directory, ca_pem)
    bench_delta(args, rng, signer)
    if args.pyca:
        bench_pyca(rows[: args.pyca], signer)


def line(label: str, value: float, unit: str, note: str = "") -> None:
    """One result line: label, figure, and what it means."""
    figure = f"{value:9.3f} s" if unit == "s" else f"{value:9.1f}x "
    print(f"  {label:<36}{figure}  {note}".rstrip())


def bench_ours(rows: Sequence[Row], signer: Signer) -> tuple[bytes, float, float]:
    """The complete CRL through encode_crl (a CA that publishes deltas: with freshestCRL), over entries
    already built, then streamed from rows as the store will (RevokedEntry made on the fly)."""
    base = spec(signer, 1, freshest_crl=("http://x.example/delta.crl",))
    der, t_ours = encode_prebuilt(base, rows, signer)
    streamed, t_stream = timed(lambda: encode_crl(base, to_entries(rows), signer))
    if streamed != der:  # RSA PKCS#1 v1.5 signatures are deterministic: the same input, the same bytes
        raise SystemExit("streamed and prebuilt entries gave different CRLs")
    line("ours: encode_crl build + sign", t_ours, "s", f"{t_ours / len(rows) * 1e6:.2f} µs/entry")
    line("ours: rows -> RevokedEntry -> CRL", t_stream, "s", "streamed, as from the store")
    return der, t_ours, t_stream


def encode_prebuilt(crl_spec: CrlSpec, rows: Sequence[Row], signer: Signer) -> tuple[bytes, float]:
    """encode_crl's own time: the RevokedEntry objects exist before the clock starts."""
    entries = list(to_entries(rows))
    return timed(lambda: encode_crl(crl_spec, entries, signer))


def bench_openssl(
    rows: Sequence[Row], directory: Path, key_file: Path, ca_pem: Path, passphrase: str
) -> tuple[float, bytes]:
    """``openssl ca -gencrl`` over an index.txt of the same rows; returns its time and DER CRL."""
    write_index(rows, directory / "index.txt")
    config = write_config(directory, key_file, ca_pem)
    out = directory / "openssl.pem"
    seconds = openssl_gencrl(config, out, passphrase)
    line("openssl ca -gencrl", seconds, "s", "reads index.txt, writes PEM")
    crl = x509.load_pem_x509_crl(out.read_bytes())
    return seconds, crl.public_bytes(serialization.Encoding.DER)


def check_same(
    der: bytes,
    theirs: bytes,
    rows: Sequence[Row],
    rng: random.Random,
    signer: Signer,
    directory: Path,
    ca_pem: Path,
) -> None:
    """Our CRL verifies (pyca and OpenSSL) and lists what OpenSSL's lists."""
    ours_path = directory / "ours.der"
    ours_path.write_bytes(der)
    ours = x509.load_der_x509_crl(der)
    if not ours.is_signature_valid(signer.public_key) or not openssl_accepts(ours_path, ca_pem):
        raise SystemExit("our CRL's signature does not verify")
    sample = {int(row.serial_hex, 16) for row in rng.sample(list(rows), min(2_000, len(rows)))}
    verdict = compare(ours, x509.load_der_x509_crl(theirs), sample)
    print(f"  check: signature OK (pyca, openssl crl); {verdict}")
    print(f"  sizes: ours {len(der):,} B, openssl {len(theirs):,} B (ours adds freshestCRL)")


def bench_delta(args: argparse.Namespace, rng: random.Random, signer: Signer) -> None:
    """A delta CRL over the base above: ``--delta`` certificates revoked since (the store's indexed
    ``after_change_seq`` query yields just these rows)."""
    rows = make_rows(args.delta, rng, NOW, NOW + dt.timedelta(hours=1))
    new = list(to_entries(rows, first_seq=args.entries + 1))
    delta_spec = spec(signer, 2, delta_base=1, this_update=NOW + dt.timedelta(hours=1))
    der, seconds = timed(lambda: encode_crl(delta_spec, new, signer))
    parsed = x509.load_der_x509_crl(der)
    if not parsed.is_signature_valid(signer.public_key) or len(parsed) != args.delta:
        raise SystemExit("the delta CRL does not verify")
    line(f"delta CRL, {args.delta:,} new entries", seconds, "s", "goal < 0.2 s")


def bench_pyca(rows: Sequence[Row], signer: Signer) -> None:
    t_pyca = pyca_bulk(rows, signer)
    _, t_ours = encode_prebuilt(spec(signer, 3), rows, signer)
    line(f"pyca bulk builder, {len(rows):,} entries", t_pyca, "s", f"ours {t_ours:.3f} s on the same")
    line("ratio pyca / ours", t_pyca / t_ours, "x")


if __name__ == "__main__":
    main()
