"""`jlis jpki card ...`: issue My Number Cards, look at them, change PINs, export and sign with them.

``card sign`` verifies the signing PIN in a card session, then hands ``pki.cms`` that session's key as an
:class:`hsm.Signer` (``jpki.card.signer.CardSigner``): the client hashes, the card signs the DigestInfo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jlis.cli.common import DEFAULT_HOME, HomeOpt, JsonOpt, actor
from jlis.cli.errors import fail
from jlis.cli.jpki_common import echo_json, held_dict, held_line, jpki_errors, opened_jpki
from jlis.cli.jpki_pins import PinSourceOpt, change_pins, issue_pins, signing_pin

if TYPE_CHECKING:
    from cryptography import x509

    from jpki.card import KeySlot, MyNumberCard
    from jpki.lifecycle import IssuedCard, Jpki, Revoked

card_app = typer.Typer(
    help="My Number Cards: issue, show, PINs, loss, renewal, export, sign.", no_args_is_help=True
)

CardOpt = Annotated[str, typer.Option("--card", help="Card id.")]
SLOTS = ("signing", "auth")


def _slot(name: str) -> KeySlot:
    from jpki.card import KeySlot

    if name not in SLOTS:
        raise fail(f"--slot {name!r}: use signing or auth")
    return KeySlot(name)


def _issued_lines(issued: IssuedCard, refusal: str | None = None) -> None:
    doc = issued.as_dict()
    typer.echo(f"card {doc['card_id']} for resident {doc['resident']}, valid through {doc['expires_on']}")
    typer.echo(f"  auth     {issued.auth.issuer.rfc4514_string()}  serial {doc['auth_serial']}")
    if issued.signing is not None:
        typer.echo(f"  signing  {issued.signing.issuer.rfc4514_string()}  serial {doc['signing_serial']}")
    else:
        typer.echo(f"  signing  none ({refusal or 'not issued'})")


def _revoked_out(revoked: list[Revoked], what: str, as_json: bool) -> None:
    if as_json:
        echo_json({"revoked": [r.as_dict() for r in revoked]})
        return
    typer.echo(what)
    for item in revoked:
        doc = item.as_dict()
        typer.echo(f"  revoked {doc['kind']:8} {doc['ca']}/{doc['serial']} ({doc['reason']})")


@card_app.command("issue")
@jpki_errors
def card_issue(
    code: Annotated[str, typer.Option("--resident", help="11-digit resident code of the holder.")],
    card_id: Annotated[str | None, typer.Option("--card-id", help="Card id (default: a fresh one).")] = None,
    pin_source: PinSourceOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Issue a card with its auth certificate and, from 15 (not under guardianship), a signing one."""
    from jpki.card.store import check_card_id
    from jpki.registry import ResidentStatus

    with opened_jpki(home) as jpki:
        resident = jpki.resident(code)
        if resident.status is ResidentStatus.deceased:
            raise fail(f"resident {code}: the resident is deceased")
        if card_id is not None and jpki.records.card(check_card_id(card_id)) is not None:
            raise fail(f"card {card_id!r} already exists")
        refusal = jpki.signing_eligible(resident)
        sign_pin, auth_pin = issue_pins(pin_source, signing=refusal is None)
        issued = jpki.issue_card(
            code, signing_pin=sign_pin, auth_pin=auth_pin, actor=actor(), card_id=card_id
        )
    if as_json:
        echo_json({**issued.as_dict(), "signing_refusal": refusal})
    else:
        _issued_lines(issued, refusal)


@card_app.command("show")
@jpki_errors
def card_show(card_id: CardOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """A card's status, expiry, PIN tries left per slot and certificates."""
    from jpki.card import KeySlot

    with opened_jpki(home) as jpki:
        record = jpki.card_record(card_id)
        with jpki.open_card(card_id) as card:
            tries = {slot.value: card.pin_tries_left(slot) for slot in KeySlot}
        doc: dict[str, Any] = {
            "card_id": record.card_id,
            "resident": record.code,
            "status": record.status.value,
            "state": record.state.value,
            "issued_on": record.issued_on.isoformat(),
            "expires_on": record.expires_on.isoformat(),
            "pin_tries_left": tries,
            "certificates": [held_dict(h) for h in jpki.records.certs(card_id=card_id)],
        }
    if as_json:
        echo_json(doc)
        return
    typer.echo(f"card {doc['card_id']}  resident {doc['resident']}  {doc['status']}")
    typer.echo(f"issued {doc['issued_on']}, valid through {doc['expires_on']}")
    typer.echo(f"PIN tries left: signing {tries['signing']}, auth {tries['auth']}")
    for cert in doc["certificates"]:
        typer.echo(held_line(cert))


@card_app.command("lost")
@jpki_errors
def card_lost(card_id: CardOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """紛失: mark the card lost and revoke its certificates (keyCompromise)."""
    with opened_jpki(home) as jpki:
        revoked = jpki.report_lost(card_id, actor=actor())
    _revoked_out(revoked, f"card {card_id} is lost", as_json)


@card_app.command("return")
@jpki_errors
def card_return(card_id: CardOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """返納: take the card back and revoke its certificates (cessationOfOperation)."""
    with opened_jpki(home) as jpki:
        revoked = jpki.return_card(card_id, actor=actor())
    _revoked_out(revoked, f"card {card_id} is returned", as_json)


@card_app.command("change-pin")
@jpki_errors
def card_change_pin(
    card_id: CardOpt,
    slot_name: Annotated[str, typer.Option("--slot", help="signing or auth.")],
    pin_source: PinSourceOpt = None,
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Change a slot's PIN; a wrong old PIN spends a try.

    The old PIN comes from JLIS_SIGN_PIN / JLIS_AUTH_PIN, the new one from JLIS_NEW_PIN; or both from a
    two-line --pin-source file (old, new); or from prompts.
    """
    slot = _slot(slot_name)
    with opened_jpki(home) as jpki, jpki.open_card(card_id) as card:
        old, new = change_pins(slot, pin_source)
        card.change_pin(slot, old, new)
    typer.echo(f"{slot.value} PIN of card {card_id} changed")


@card_app.command("renew")
@jpki_errors
def card_renew(card_id: CardOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """更新: new keys and certificates on the card; the old certificates are revoked (superseded)."""
    with opened_jpki(home) as jpki:
        issued = jpki.renew(card_id, actor=actor())
    if as_json:
        echo_json(issued.as_dict())
    else:
        _issued_lines(issued)


@card_app.command("reissue")
@jpki_errors
def card_reissue(card_id: CardOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """再発行 after a move or another 4-information change: a new signing certificate with today's data."""
    with opened_jpki(home) as jpki:
        cert = jpki.reissue_signing(card_id, actor=actor())
    doc = {"card_id": card_id, "signing_serial": f"{cert.serial_number:x}"}
    doc["not_after"] = cert.not_valid_after_utc.isoformat()
    if as_json:
        echo_json(doc)
    else:
        typer.echo(
            f"card {card_id}: new signing certificate {doc['signing_serial']} until {doc['not_after']}"
        )


@card_app.command("export")
@jpki_errors
def card_export(
    card_id: CardOpt,
    directory: Annotated[Path, typer.Option("--dir", help="Directory to write the PEM files to.")],
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Write sign.pem (when the card has one), auth.pem, sign-ca.pem and auth-ca.pem."""
    with opened_jpki(home) as jpki, jpki.open_card(card_id) as card:
        files = _export_files(jpki, card)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    typer.echo(f"wrote {', '.join(files)} to {directory}")


def _export_files(jpki: Jpki, card: MyNumberCard) -> dict[str, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from jpki.card import CertificateMissing, KeySlot

    def pem(der: bytes) -> bytes:
        return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)

    files: dict[str, bytes] = {}
    if card.has_certificate(KeySlot.SIGNING):
        files["sign.pem"] = pem(card.certificate_der(KeySlot.SIGNING))
    files["auth.pem"] = pem(card.certificate_der(KeySlot.AUTH))
    for slot, name, ca in ((KeySlot.SIGNING, "sign", jpki.sign_ca), (KeySlot.AUTH, "auth", jpki.auth_ca)):
        try:
            files[f"{name}-ca.pem"] = pem(card.ca_certificate_der(slot))
        except CertificateMissing:  # no signing certificate, so no signing CA certificate: take the home's
            files[f"{name}-ca.pem"] = ca.certificate.public_bytes(serialization.Encoding.PEM)
    return files


@card_app.command("sign")
@jpki_errors
def card_sign(
    card_id: CardOpt,
    infile: Annotated[Path, typer.Option("--in", help="The document to sign.")],
    out: Annotated[Path, typer.Option("--out", help="Detached CMS signature (DER; PEM if it ends in .pem).")],
    pin_source: PinSourceOpt = None,
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Sign a document with the card's signing key: CMS SignedData, detached, with the certificate."""
    from jpki.card import KeySlot
    from jpki.card.signer import CardSigner
    from jpki.lifecycle import CertState
    from pki.cms import sign_cms, to_pem

    content = infile.read_bytes()
    with opened_jpki(home) as jpki, jpki.open_card(card_id) as card:
        if not card.has_certificate(KeySlot.SIGNING):
            raise fail(f"card {card_id} has no signing certificate")
        certificate: x509.Certificate = card.certificate(KeySlot.SIGNING)
        held = jpki.records.cert(jpki.sign_ca.id, certificate.serial_number)
        session = card.session()
        session.verify_pin(KeySlot.SIGNING, signing_pin(pin_source))
        der = sign_cms(content, CardSigner(session, KeySlot.SIGNING), certificate)
    out.write_bytes(to_pem(der) if out.suffix.lower() == ".pem" else der)
    if held is not None and held.state is not CertState.current:
        typer.echo(
            f"warning: the signing certificate is {held.state.value}: verifiers will reject this", err=True
        )
    typer.echo(f"signed {infile} with card {card_id} (certificate {certificate.serial_number:x}) -> {out}")
