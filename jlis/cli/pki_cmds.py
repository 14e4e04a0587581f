"""`jlis init`, `jlis ca ...`, `jlis crl generate`, `jlis audit ...`: operating the PKI core from a shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jlis.cli.common import DEFAULT_HOME, HomeOpt, JsonOpt, actor, opened
from jlis.cli.errors import fail, one_line_errors

ca_app = typer.Typer(help="Certification authorities: list, issue, revoke.", no_args_is_help=True)
crl_app = typer.Typer(help="Certificate revocation lists.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@one_line_errors
def init(
    home: HomeOpt = DEFAULT_HOME,
    keys: Annotated[str, typer.Option("--keys", help="Where CA keys live: file or softhsm.")] = "file",
    db: Annotated[
        str | None, typer.Option("--db", help="SQLAlchemy URL (default: SQLite in the home).")
    ] = None,
    definition: Annotated[Path | None, typer.Option("--definition", help="PKI definition TOML.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="URL certificates point to.")] = None,
) -> None:
    """Create every CA the PKI definition declares (keys, certificates, first CRLs). Safe to rerun."""
    from pki.home import KeyMode
    from pki.runtime import Pki

    try:
        mode = KeyMode(keys)
    except ValueError:
        raise fail(f"unknown key mode {keys!r}: use file or softhsm") from None
    pki = Pki.initialise(home, keys=mode, store_url=db, definition=definition, base_url=base_url)
    try:
        for ca in pki.cas():
            typer.echo(f"{ca.id:16} {ca.certificate.subject.rfc4514_string()}")
        typer.echo(f"PKI ready in {home} ({len(pki.definition.cas)} CAs, keys: {pki.config.keys.value})")
    finally:
        pki.close()


@ca_app.command("list")
@one_line_errors
def ca_list(home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """List the CAs with their names, validity and publication URLs."""
    with opened(home) as pki:
        rows = []
        for ca in pki.cas():
            cert = ca.certificate
            rows.append(
                {
                    "id": ca.id,
                    "subject": cert.subject.rfc4514_string(),
                    "issuer": ca.definition.issuer or "self",
                    "serial": format(cert.serial_number, "x"),
                    "not_after": cert.not_valid_after_utc.isoformat(),
                    "issues": list(ca.definition.issues),
                    "certificate_url": f"{ca.base_url}/ca/{ca.id}.cer",
                    "crl_url": ca.crl_url(),
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['id']:16} {row['subject']}  (until {row['not_after'][:10]}, issuer {row['issuer']})"
        )


@ca_app.command("issue")
@one_line_errors
def ca_issue(
    ca_id: Annotated[str, typer.Option("--ca", help="Issuing CA id.")],
    profile: Annotated[str, typer.Option("--profile", help="Certificate profile id.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the certificate (PEM).")],
    csr: Annotated[Path | None, typer.Option("--csr", help="PKCS#10 request (PEM or DER).")] = None,
    pubkey: Annotated[Path | None, typer.Option("--pubkey", help="Subject public key (PEM or DER).")] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="Subject DN, RFC 4514 (e.g. CN=x,O=y,C=JP).")
    ] = None,
    holder: Annotated[str | None, typer.Option("--holder", help="Opaque holder reference.")] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            help="Holder data a validity rule reads, KEY=VALUE, repeatable (e.g. birth_date=1990-01-02).",
        ),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Issue a certificate from a CSR or a bare public key, under a profile the CA issues."""
    from cryptography.hazmat.primitives import serialization

    from jlis.cli.inputs import read_csr, read_public_key, read_subject
    from pki.ca import IssueRequest

    if (csr is None) == (pubkey is None):
        raise fail("give exactly one of --csr FILE or --pubkey FILE")
    attributes: dict[str, str] = {}
    for item in attribute or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--attribute {item!r}: write KEY=VALUE, e.g. birth_date=1990-01-02")
        attributes[key.strip()] = value.strip()
    request = IssueRequest(
        profile=profile,
        csr=read_csr(csr) if csr else None,
        public_key=read_public_key(pubkey) if pubkey else None,
        subject=read_subject(subject) if subject else None,
        holder_ref=holder,
        attributes=attributes,
    )
    with opened(home) as pki:
        certificate = pki.ca(ca_id).issue_request(request, actor=actor())
    out.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    serial = format(certificate.serial_number, "x")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ca": ca_id,
                    "serial": serial,
                    "subject": certificate.subject.rfc4514_string(),
                    "not_after": certificate.not_valid_after_utc.isoformat(),
                    "file": str(out),
                }
            )
        )
    else:
        typer.echo(f"issued serial {serial} by {ca_id} -> {out}")


@ca_app.command("revoke")
@one_line_errors
def ca_revoke(
    ca_id: Annotated[str, typer.Option("--ca", help="Issuing CA id.")],
    serial: Annotated[str, typer.Option("--serial", help="Serial number, hex.")],
    reason: Annotated[str, typer.Option("--reason", help="RFC 5280 reason, e.g. keyCompromise.")],
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Revoke a certificate; republishes the CA's CRLs when its policy says so."""
    from pki.model import RevocationReason

    number = _serial(serial)
    parsed = RevocationReason.parse(reason)
    with opened(home) as pki:
        row = pki.ca(ca_id).revoke(number, parsed, actor=actor())
        published = pki.after_revocation(ca_id)
    typer.echo(f"revoked {ca_id}/{number:x} ({row.reason.value}); CRLs published: {published}")


@ca_app.command("release")
@one_line_errors
def ca_release(
    ca_id: Annotated[str, typer.Option("--ca", help="Issuing CA id.")],
    serial: Annotated[str, typer.Option("--serial", help="Serial number, hex.")],
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Release a certificateHold, where the CA's policy allows it (the next delta CRL says removeFromCRL)."""
    number = _serial(serial)
    with opened(home) as pki:
        pki.ca(ca_id).release_hold(number, actor=actor())
        published = pki.after_revocation(ca_id)
    typer.echo(f"released {ca_id}/{number:x}; CRLs published: {published}")


def _serial(text: str) -> int:
    try:
        return int(text.removeprefix("0x").replace(":", ""), 16)
    except ValueError:
        raise fail(f"serial {text!r} is not hexadecimal") from None


@ca_app.command("rollover")
@one_line_errors
def ca_rollover(
    ca_id: Annotated[str, typer.Option("--ca", help="A self-signed CA's id.")],
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """A new key and a new generation of a root CA under the same name, with link certificates both ways;
    the old generation keeps answering OCSP for what it issued. A running server follows within a second."""
    with opened(home) as pki:
        done = pki.rollover(ca_id, actor=actor())
        published = pki.publish_crls(ca_id, actor=actor())
    doc = {
        "ca": ca_id,
        "new_certificate": f"{done.new_certificate.serial_number:x}",
        "new_with_old": f"{done.new_with_old.serial_number:x}",
        "old_with_new": f"{done.old_with_new.serial_number:x}",
        "crls": [f"{row.scope}#{row.crl_number}" for row in published],
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(
        f"{ca_id}: new generation {doc['new_certificate']}; links {doc['new_with_old']} (new with old), "
        f"{doc['old_with_new']} (old with new); CRLs now signed with the new key"
    )


@ca_app.command("recover")
@one_line_errors
def ca_recover(
    home: HomeOpt = DEFAULT_HOME,
    minutes: Annotated[float, typer.Option("--older-than", help="Minutes a pending issuance may last.")] = 10,
) -> None:
    """Abort issuances left pending by a process that died (they were never handed out)."""
    import datetime as dt

    with opened(home) as pki:
        count = pki.recover(grace=dt.timedelta(minutes=minutes), actor=actor())
    typer.echo(f"aborted {count} pending issuance(s)")


@crl_app.command("generate")
@one_line_errors
def crl_generate(
    ca_id: Annotated[str, typer.Option("--ca", help="CA id.")],
    delta: Annotated[bool, typer.Option("--delta", help="A delta CRL over the latest complete one.")] = False,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Issue the next CRL of every scope the CA publishes (complete, shards, ARL) or its deltas."""
    with opened(home) as pki:
        rows = pki.publish_crls(ca_id, actor=actor(), delta=delta)
        urls = [pki.ca(ca_id).crl_url(row.scope, row.is_delta) for row in rows]
    docs = [
        {
            "scope": r.scope,
            "crl_number": r.crl_number,
            "delta": r.is_delta,
            "url": u,
            "next_update": r.next_update.isoformat(),
        }
        for r, u in zip(rows, urls, strict=True)
    ]
    if as_json:
        typer.echo(json.dumps(docs))
        return
    for doc in docs:
        typer.echo(
            f"{doc['scope']:10} #{doc['crl_number']:<6} {'delta ' if doc['delta'] else ''}{doc['url']}"
        )


@audit_app.command("verify")
@one_line_errors
def audit_verify(home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """Recompute the hash chain and check the signed checkpoints; name every problem. Exit 1 if any."""
    with opened(home) as pki:
        report = pki.verify_audit()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "records": report.records,
                    "checkpoints": report.checkpoints,
                    "problems": report.problems,
                }
            )
        )
    elif report.ok:
        typer.echo(f"audit log OK: {report.records} records, {report.checkpoints} checkpoints")
    else:
        for problem in report.problems:
            typer.echo(problem)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
@one_line_errors
def audit_checkpoint(home: HomeOpt = DEFAULT_HOME) -> None:
    """Sign the head of the audit chain with the audit key."""
    with opened(home) as pki:
        checkpoint = pki.checkpoint(actor=actor())
    typer.echo(f"checkpoint at record {checkpoint.seq}")
