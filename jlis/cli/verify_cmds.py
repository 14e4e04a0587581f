"""`jlis verify` and `jlis verify-path`: checks for relying parties.

Exit codes (both commands): 0 valid; 1 invalid or revoked; 2 indeterminate (no revocation status when one
is required, an unreachable or refusing responder) — and 2 as well for input the verifier cannot judge at
all (an unreadable file, a file that is not a certificate or a SignedData, no anchors, a naive time), with
one ``error: ...`` line on stderr and no traceback. Typer's own usage errors also exit 2: 2 always means
"no verdict of validity".
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from jlis.cli.common import JsonOpt
from jlis.cli.errors import fail

if TYPE_CHECKING:
    from cryptography import x509

    from jpki.verify import JpkiSignatureVerification
    from pki.verify import PathValidation, RevinfoUse, Revocation, RevocationMode, Verdict

P = ParamSpec("P")
R = TypeVar("R")

INPUT_ERROR = 2
"""Exit code for input that cannot be judged (the same as indeterminate: no verdict of validity)."""
TOKEN_ENV = "JLIS_VERIFIER_TOKEN"
SIGNING_TIME = "signing-time"

AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at", help="Validation time, ISO 8601 with a zone (2026-11-26T10:00:00+09:00). Default: now."
    ),
]
UntrustedOpt = Annotated[
    list[Path] | None,
    typer.Option("--untrusted", help="Untrusted certificates to build the path with (PEM/DER), repeatable."),
]
CrlOpt = Annotated[
    list[Path] | None, typer.Option("--crl", help="CRL to check against (PEM/DER), repeatable; no fetching.")
]
RevocationOpt = Annotated[
    str | None, typer.Option("--revocation", help="require (default), soft-fail or off.")
]
PathRevocationOpt = Annotated[
    str | None,
    typer.Option("--revocation", help="require, soft-fail or off (default: require with --crl, else off)."),
]


def input_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Library and file errors as one ``error:`` line and exit 2 (no verdict could be reached)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from hsm.errors import HsmError
        from jpki.errors import JpkiError
        from pki.errors import PkiError

        try:
            return func(*args, **kwargs)
        except (HsmError, PkiError, JpkiError) as exc:
            raise fail(exc.message, INPUT_ERROR) from None
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise fail(f"{exc.strerror or type(exc).__name__}:{where}", INPUT_ERROR) from None

    return wrapper


@input_errors
def verify(
    signature: Annotated[Path, typer.Argument(help="CMS SignedData (.p7s), DER or PEM.")],
    content: Annotated[
        Path | None, typer.Option("--content", help="The signed content, for a detached signature.")
    ] = None,
    anchors: Annotated[
        Path | None, typer.Option("--anchors", help="Trusted CA certificates: a directory or one file.")
    ] = None,
    jpki_production_anchors: Annotated[
        bool,
        typer.Option(
            "--jpki-production-anchors", help="Trust the real J-LIS signing CAs (every generation)."
        ),
    ] = False,
    untrusted: UntrustedOpt = None,
    ocsp: Annotated[
        str | None, typer.Option("--ocsp", help="Ask this OCSP responder (instead of the AIA one); no CRLs.")
    ] = None,
    crl: CrlOpt = None,
    revocation: RevocationOpt = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Validation time, ISO 8601 with a zone, or 'signing-time'. Default: now."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file", help=f"Registered-verifier token for the responder (else ${TOKEN_ENV})."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a CMS signature: signature math, path to the anchors, revocation (OCSP preferred, else CRL).

    Exit 0 valid, 1 invalid or revoked, 2 indeterminate or unusable input.

    Without --ocsp or --crl, the certificate's OCSP responder is asked, then its CRL distribution point.
    """
    from jpki.verify import jpki_validator, verify_signature
    from pki.verify import RevocationMode, RevocationSettings

    if ocsp is not None and crl:
        raise fail("give --ocsp URL or --crl FILE, not both", INPUT_ERROR)
    trusted = _read_anchors(anchors) if anchors is not None else []
    if not trusted and not jpki_production_anchors:
        raise fail(
            "no trust anchors: give --anchors DIR (the CA certificates you trust) "
            "or --jpki-production-anchors for the real JPKI signing CAs",
            INPUT_ERROR,
        )
    crls = _read_crls(crl)
    settings = RevocationSettings(
        mode=_mode(revocation, RevocationMode.require),
        ocsp=not crls,
        ocsp_url=ocsp,
        fetch_crls=not crls and ocsp is None,
        token=_token(token_file),
    )
    with jpki_validator(trusted, production=jpki_production_anchors, revocation=settings) as validator:
        checked = verify_signature(
            signature.read_bytes(),
            validator,
            content=content.read_bytes() if content is not None else None,
            certificates=_read_certs(untrusted),
            crls=crls,
            at=None if at == SIGNING_TIME else _time(at),
            at_signing_time=at == SIGNING_TIME,
        )
    _finish(checked.verdict, _signature_json(checked) if as_json else None, _signature_line(checked))


@input_errors
def verify_path(
    cert: Annotated[Path, typer.Argument(help="The certificate to validate (PEM/DER).")],
    anchor: Annotated[
        list[Path], typer.Option("--anchor", help="Trust anchor certificate file (PEM/DER), repeatable.")
    ],
    untrusted: UntrustedOpt = None,
    crl: CrlOpt = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="Acceptable policy OID (user-initial-policy-set), repeatable."),
    ] = None,
    explicit_policy: Annotated[
        bool, typer.Option("--explicit-policy", help="Require a valid policy (initial-explicit-policy).")
    ] = False,
    inhibit_mapping: Annotated[
        bool,
        typer.Option("--inhibit-mapping", help="Refuse policy mapping (initial-policy-mapping-inhibit)."),
    ] = False,
    inhibit_any: Annotated[
        bool, typer.Option("--inhibit-any", help="anyPolicy matches nothing (initial-any-policy-inhibit).")
    ] = False,
    revocation: PathRevocationOpt = None,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a certification path (RFC 5280 §6.1) with every policy input.

    Exit 0 valid, 1 invalid or revoked, 2 indeterminate or unusable input.

    With --crl, the end-entity certificate must be covered by one of the CRLs (nothing is fetched).

    Without --crl, revocation is off unless --revocation asks (then OCSP and CRL distribution points).
    """
    from pki.verify import PathValidator, PolicyInputs, RevocationMode, RevocationSettings

    crls = _read_crls(crl)
    default = RevocationMode.require if crls else RevocationMode.off
    settings = RevocationSettings(mode=_mode(revocation, default), ocsp=not crls, fetch_crls=not crls)
    inputs = PolicyInputs.of(
        policy or (), explicit=explicit_policy, inhibit_mapping=inhibit_mapping, inhibit_any=inhibit_any
    )
    target, intermediates, when = _read_one_cert(cert), _read_certs(untrusted), _time(at)
    with PathValidator(_read_anchor_files(anchor), revocation=settings) as validator:
        result = validator.validate(target, intermediates=intermediates, crls=crls, policy=inputs, at=when)
    _finish(result.verdict, _path_json(result) if as_json else None, _path_line(result))


# -- inputs ---------------------------------------------------------------------------------------------


def _read_anchors(path: Path) -> list[x509.Certificate]:
    from pki.verify import anchors_from

    return anchors_from(path)


def _read_anchor_files(paths: Sequence[Path]) -> list[x509.Certificate]:
    from pki.verify import anchors_from

    return [cert for path in paths for cert in anchors_from(path)]


def _read_certs(paths: Sequence[Path] | None) -> list[x509.Certificate]:
    from pki.verify import load_certificates

    return [cert for path in paths or [] for cert in load_certificates(path.read_bytes(), str(path))]


def _read_one_cert(path: Path) -> x509.Certificate:
    found = _read_certs([path])
    if len(found) != 1:
        raise fail(f"{path}: holds {len(found)} certificates; give exactly one", INPUT_ERROR)
    return found[0]


def _read_crls(paths: Sequence[Path] | None) -> list[bytes]:
    from pki.verify import load_crl

    return [load_crl(path.read_bytes(), str(path)) for path in paths or []]


def _mode(text: str | None, default: RevocationMode) -> RevocationMode:
    from pki.verify import RevocationMode

    if text is None:
        return default
    try:
        return RevocationMode(text)
    except ValueError:
        raise fail(f"--revocation {text!r}: use require, soft-fail or off", INPUT_ERROR) from None


def _time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"--at {text!r}: not an ISO 8601 time (e.g. 2026-11-26T10:00:00+09:00)", INPUT_ERROR
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise fail(f"--at {text!r}: give a timezone (e.g. 2026-11-26T10:00:00+09:00 or ...Z)", INPUT_ERROR)
    return value.astimezone(dt.UTC)


def _token(path: Path | None) -> str | None:
    """The registered verifier's token: --token-file, else the environment. Never printed."""
    if path is not None:
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise fail(f"--token-file {path}: the file is empty", INPUT_ERROR)
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


# -- output ---------------------------------------------------------------------------------------------


def _finish(verdict: Verdict, document: dict[str, Any] | None, line: str) -> None:
    from pki.verify import Verdict

    if document is not None:
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        typer.echo(line)
    code = {Verdict.valid: 0, Verdict.invalid: 1, Verdict.revoked: 1, Verdict.indeterminate: 2}[verdict]
    if code:
        raise typer.Exit(code)


def _cert_json(cert: x509.Certificate) -> dict[str, str]:
    from cryptography.hazmat.primitives import hashes

    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def _revocation_json(revoked: Revocation | None, uses: Sequence[RevinfoUse]) -> dict[str, Any]:
    return {
        "revoked": None
        if revoked is None
        else {
            "subject": revoked.subject,
            "serial": format(revoked.serial, "x"),
            "reason": revoked.reason.value,
            "time": revoked.time.isoformat(),
        },
        "checked": [{"source": u.source.value, "location": u.location, "outcome": u.outcome} for u in uses],
    }


def _path_json(result: PathValidation) -> dict[str, Any]:
    return {
        "verdict": result.verdict.value,
        "problem": result.problem.value if result.problem else None,
        "reason": result.reason,
        "validation_time": result.validation_time.isoformat(),
        "certificate": _cert_json(result.certificate),
        "path": [_cert_json(c) for c in result.path],
        "anchor": result.anchor.subject.rfc4514_string() if result.anchor is not None else None,
        "policies": sorted(result.policies),
        "revocation": _revocation_json(result.revocation, result.revinfo),
    }


def _signature_json(checked: JpkiSignatureVerification) -> dict[str, Any]:
    result = checked.result
    validation = result.validation
    return {
        "verdict": result.verdict.value,
        "problem": result.problem.value if result.problem else None,
        "reason": result.reason,
        "validation_time": validation.validation_time.isoformat() if validation else None,
        "signer": _cert_json(result.signer) if result.signer is not None else None,
        "signing_time": result.signing_time.isoformat() if result.signing_time else None,
        "digest_algorithm": result.digest_algorithm,
        "path": [_cert_json(c) for c in result.path],
        "revocation": _revocation_json(result.revocation, validation.revinfo if validation else ()),
        "four_info": checked.four_info.as_dict() if checked.four_info is not None else None,
    }


def _path_line(result: PathValidation) -> str:
    chain = " <- ".join(c.subject.rfc4514_string() for c in result.path)
    return f"{result.verdict.value}: {result.reason}\npath: {chain}"


def _signature_line(checked: JpkiSignatureVerification) -> str:
    result = checked.result
    lines = [f"{result.verdict.value}: {result.reason}"]
    if result.signer is not None:
        signer = result.signer
        lines.append(f"signer: {signer.subject.rfc4514_string()} (serial {signer.serial_number:x})")
    if result.signing_time is not None:
        lines.append(f"signing time (claimed): {result.signing_time.isoformat()}")
    if result.revocation is not None:
        revoked = result.revocation
        lines.append(f"revoked: {revoked.reason.value} at {revoked.time.isoformat()}")
    if checked.four_info is not None:
        info = checked.four_info
        lines.append(
            f"4 information: {info.name} / {info.birth.isoformat()} / {info.sex.name} / {info.address}"
        )
    return "\n".join(lines)
