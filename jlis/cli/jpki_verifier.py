"""`jlis jpki verifier ...`: registered verifiers (platform businesses, service providers, public bodies),
their tokens and scopes, and the monthly fee statement.

A token is printed once, by ``add`` and ``rotate-token``, and never stored (only its SHA-256 is): the
warning goes to stderr, so ``--json`` output stays machine-readable. Every command takes ``--home``; every
error is one line on stderr and exit 1, with nothing changed.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jlis.cli.common import DEFAULT_HOME, HomeOpt, JsonOpt, actor
from jlis.cli.errors import fail
from jlis.cli.jpki_common import echo_json, jpki_errors

if TYPE_CHECKING:
    from cryptography import x509

    from jpki.verifiers import Ledger, Registered, Statement, Verifier, VerifierRegistry

verifier_app = typer.Typer(
    help="Registered verifiers: the only ones JPKI's OCSP and CRLs answer; their fee statements.",
    no_args_is_help=True,
)

IdOpt = Annotated[str, typer.Option("--id", help="Verifier id (see: jlis jpki verifier list).")]
ScopeOpt = Annotated[
    list[str] | None,
    typer.Option("--scope", help="ocsp, crl, linkage or four-info; repeatable (default: by kind)."),
]
TOKEN_WARNING = "this token is shown once and is not stored (only its hash is): keep it now"
STATEMENT_COLUMNS = ("verifier", "name", "service", "ca", "count", "unit_fee", "amount")


@dataclass(frozen=True, slots=True)
class _Opened:
    registry: VerifierRegistry
    ledger: Ledger


@contextmanager
def opened_verifiers(home: Path) -> Iterator[_Opened]:
    """The verifier registry and ledger of a home (``jlis init``), closed afterwards."""
    from jlis.cli.common import opened
    from jpki.verifiers import Ledger, VerifierRegistry

    with opened(home) as pki:
        yield _Opened(VerifierRegistry(pki.store, pki.clock), Ledger(pki.store, pki.clock))


def _line(verifier: Verifier) -> str:
    scopes = " ".join(sorted(s.value for s in verifier.scopes)) or "-"
    return (
        f"{verifier.verifier_id:20} {verifier.kind.value:6} {verifier.status.value:9} {scopes:30} "
        f"{verifier.name}"
    )


def _print_token(registered: Registered, as_json: bool) -> None:
    """The verifier and its token, once, with the warning on stderr."""
    typer.echo(f"warning: {TOKEN_WARNING}", err=True)
    if as_json:
        doc = {
            "verifier": registered.verifier.as_dict(),
            "token_id": registered.token_id,
            "token": registered.token,
            "warning": TOKEN_WARNING,
        }
        echo_json(doc)
        return
    typer.echo(_line(registered.verifier))
    typer.echo(f"token: {registered.token}")


@verifier_app.command("add")
@jpki_errors
def verifier_add(
    name: Annotated[str, typer.Option("--name", help="The body's or business's name.")],
    kind: Annotated[
        str, typer.Option("--kind", help="pf (platform business), sp (service provider), public.")
    ],
    scope: ScopeOpt = None,
    platform: Annotated[
        str | None, typer.Option("--platform", help="For a service provider: its platform business's id.")
    ] = None,
    client_cert: Annotated[
        Path | None, typer.Option("--client-cert", help="The verifier's client certificate (PEM or DER).")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Register a verifier and print its API token (once)."""
    certificate = _read_certificate(client_cert) if client_cert is not None else None
    with opened_verifiers(home) as opened:
        added = opened.registry.add(
            name,
            kind,
            actor=actor(),
            scopes=scope or None,
            platform_id=platform,
            client_certificate=certificate,
        )
    _print_token(added, as_json)


@verifier_app.command("list")
@jpki_errors
def verifier_list(home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """Every registered verifier: id, kind, status, scopes, name."""
    with opened_verifiers(home) as opened:
        verifiers = opened.registry.list()
    if as_json:
        echo_json([v.as_dict() for v in verifiers])
        return
    if not verifiers:
        typer.echo("no registered verifiers (add one: jlis jpki verifier add --name N --kind pf)")
    for verifier in verifiers:
        typer.echo(_line(verifier))


@verifier_app.command("show")
@jpki_errors
def verifier_show(verifier_id: IdOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """One verifier with its tokens' lookup ids and dates (never a token or its hash)."""
    with opened_verifiers(home) as opened:
        verifier = opened.registry.get(verifier_id)
        tokens = opened.registry.tokens(verifier_id)
    doc = {**verifier.as_dict(), "tokens": [t.as_dict() for t in tokens]}
    if as_json:
        echo_json(doc)
        return
    for key in ("id", "name", "kind", "status", "platform", "client_cert_sha256", "created_at", "updated_at"):
        if doc[key] is not None:
            typer.echo(f"{key:18} {doc[key]}")
    typer.echo(f"{'scopes':18} {' '.join(doc['scopes']) or '-'}")
    for token in doc["tokens"]:
        state = "current" if token["revoked_at"] is None else f"revoked {token['revoked_at']}"
        typer.echo(f"{'token':18} jv_{token['token_id']}_…  created {token['created_at']}  {state}")


ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why, for the audit log.")]


@verifier_app.command("suspend")
@jpki_errors
def verifier_suspend(
    verifier_id: IdOpt, reason: ReasonOpt = None, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False
) -> None:
    """Refuse the verifier everything until resumed (a running server follows within seconds)."""
    _set_active(verifier_id, False, reason, home, as_json)


@verifier_app.command("resume")
@jpki_errors
def verifier_resume(
    verifier_id: IdOpt, reason: ReasonOpt = None, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False
) -> None:
    """Answer a suspended verifier again (its token is unchanged)."""
    _set_active(verifier_id, True, reason, home, as_json)


def _set_active(verifier_id: str, active: bool, reason: str | None, home: Path, as_json: bool) -> None:
    with opened_verifiers(home) as opened:
        change = opened.registry.resume if active else opened.registry.suspend
        verifier = change(verifier_id, actor=actor(), reason=reason)
    _print_verifier(verifier, as_json, "resumed" if active else "suspended")


@verifier_app.command("rotate-token")
@jpki_errors
def verifier_rotate_token(verifier_id: IdOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """Give the verifier a new token (printed once); the old one stops working."""
    with opened_verifiers(home) as opened:
        rotated = opened.registry.rotate_token(verifier_id, actor=actor())
    _print_token(rotated, as_json)


@verifier_app.command("scopes")
@jpki_errors
def verifier_scopes(
    verifier_id: IdOpt,
    scope: Annotated[list[str], typer.Option("--scope", help="ocsp, crl, linkage or four-info; repeatable.")],
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Replace the verifier's scopes."""
    with opened_verifiers(home) as opened:
        verifier = opened.registry.set_scopes(verifier_id, scope, actor=actor())
    _print_verifier(verifier, as_json, "scopes set")


@verifier_app.command("statement")
@jpki_errors
def verifier_statement(
    month: Annotated[str, typer.Option("--month", help="The month in Japan, YYYY-MM.")],
    verifier_id: Annotated[str | None, typer.Option("--id", help="One verifier (default: all).")] = None,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (one row per line item, no totals).")
    ] = False,
) -> None:
    """Provisions of a month (OCSP statuses, CRL downloads, linkage, 4 information) and their fees in yen."""
    if as_json and as_csv:
        raise fail("give --json or --csv, not both")
    with opened_verifiers(home) as opened:
        if verifier_id is not None:
            opened.registry.get(verifier_id)  # an unknown id is an error, not an empty statement
        statement = opened.ledger.statement(verifier_id, month)
    if as_json:
        echo_json(statement.as_dict())
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(STATEMENT_COLUMNS)
        for row in statement.rows:
            writer.writerow([row.as_dict()[column] for column in STATEMENT_COLUMNS])
    else:
        _print_statement(statement)


def _print_statement(statement: Statement) -> None:
    typer.echo(f"statement {statement.month} (JST), yen")
    if not statement.rows:
        typer.echo("  no provisions")
    for row in statement.rows:
        typer.echo(
            f"  {row.verifier_id:20} {row.service.value:9} {row.ca_id:12} {row.count:>10} × {row.unit_fee:>4}"
            f" = {row.amount:>12}"
        )
    for verifier_id, amount in sorted(statement.totals().items()):
        typer.echo(f"  total {verifier_id:20} {amount:>12}")
    typer.echo(f"  total {statement.total:>12}")


def _print_verifier(verifier: Verifier, as_json: bool, what: str) -> None:
    if as_json:
        echo_json(verifier.as_dict())
    else:
        typer.echo(f"{what}: {_line(verifier)}")


def _read_certificate(path: Path) -> x509.Certificate:
    from cryptography import x509

    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise fail(f"{path}: not a certificate (PEM or DER)") from None
