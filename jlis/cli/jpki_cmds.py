"""`jlis jpki ...`: the JPKI lifecycle from a shell: residents and registry events, cards (``jpki_card``),
batch issuance (``jpki_batch``), expiry notices, and the 4 information of a certificate.

Every command takes ``--home``; every error is one line on stderr and exit 1, with nothing changed. PINs
come from ``jpki_pins``' sources, never from an argument.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jlis.cli.common import DEFAULT_HOME, HomeOpt, JsonOpt, actor
from jlis.cli.errors import fail
from jlis.cli.jpki_batch import issue_batch
from jlis.cli.jpki_card import card_app
from jlis.cli.jpki_common import echo_json, held_dict, held_line, jpki_errors, opened_jpki, parse_date
from jlis.cli.jpki_verifier import verifier_app

if TYPE_CHECKING:
    from jpki.lifecycle import EventOutcome, Jpki
    from jpki.registry import EventKind, Resident

jpki_app = typer.Typer(
    help="JPKI: residents, registry events, My Number Cards and their certificates.", no_args_is_help=True
)
resident_app = typer.Typer(help="The resident registry.", no_args_is_help=True)
events_app = typer.Typer(help="Registry events that wait for their day.", no_args_is_help=True)
cert_app = typer.Typer(help="JPKI certificates.", no_args_is_help=True)
jpki_app.add_typer(resident_app, name="resident")
jpki_app.add_typer(events_app, name="events")
jpki_app.add_typer(card_app, name="card")
jpki_app.add_typer(cert_app, name="cert")
jpki_app.add_typer(verifier_app, name="verifier")
jpki_app.command("issue-batch")(issue_batch)

CodeOpt = Annotated[str, typer.Option("--code", help="11-digit resident code (住民票コード).")]
NOTICE_COLUMNS = ("what", "card_id", "resident", "holder", "kind", "serial", "expires_on", "action")


# -- residents ----------------------------------------------------------------------------------------------


def resident_dict(resident: Resident) -> dict[str, Any]:
    return {
        "code": resident.code,
        "status": resident.status.value,
        "status_since": None if resident.status_since is None else resident.status_since.isoformat(),
        "municipality": resident.municipality,
        "guardianship": resident.guardianship,
        "four_info": resident.info.as_dict(),
    }


@resident_app.command("add")
@jpki_errors
def resident_add(
    code: CodeOpt,
    name: Annotated[str, typer.Option("--name", help="Name, family and given name separated by U+3000.")],
    birth: Annotated[str, typer.Option("--birth", help="Date of birth, YYYY-MM-DD.")],
    sex: Annotated[str, typer.Option("--sex", help="1 male, 2 female, 3 not known.")],
    address: Annotated[str, typer.Option("--address", help="Address from the prefecture, no postcode.")],
    municipality: Annotated[str, typer.Option("--municipality", help="6-digit municipality code.")],
    guardianship: Annotated[
        bool, typer.Option("--guardianship", help="Under adult guardianship (no signing certificate).")
    ] = False,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Register a resident with their basic 4 information."""
    from jpki.fourinfo import FourInfo, Sex
    from jpki.registry import Resident

    info = FourInfo(name=name, birth=parse_date(birth, "--birth"), sex=Sex.from_code(sex), address=address)
    resident = Resident(code, info, municipality, guardianship=guardianship)
    with opened_jpki(home) as jpki:
        added = jpki.add_resident(resident, actor=actor())
    if as_json:
        echo_json(resident_dict(added))
    else:
        typer.echo(f"registered resident {added.code} (municipality {added.municipality})")


@resident_app.command("show")
@jpki_errors
def resident_show(code: CodeOpt, home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """A resident's 4 information, status, municipality, and cards with their certificates."""
    with opened_jpki(home) as jpki:
        found = jpki.resident(code)
        doc = resident_dict(found)
        doc["signing_refusal"] = jpki.signing_eligible(found)
        doc["cards"] = _cards_of(jpki, code)
    if as_json:
        echo_json(doc)
        return
    info = doc["four_info"]
    typer.echo(f"resident     {doc['code']}  {doc['status']}  municipality {doc['municipality']}")
    typer.echo(f"name         {info['name']}")
    typer.echo(f"birth        {info['birth']} ({info['birth_code']})")
    typer.echo(f"sex          {info['sex_code']} ({info['sex']})")
    typer.echo(f"address      {info['address']}")
    if doc["signing_refusal"]:
        typer.echo(f"signing      no: {doc['signing_refusal']}")
    for card in doc["cards"]:
        typer.echo(f"card {card['card_id']}  {card['status']}  valid through {card['expires_on']}")
        for cert in card["certificates"]:
            typer.echo(held_line(cert))


def _cards_of(jpki: Jpki, code: str) -> list[dict[str, Any]]:
    held = jpki.records.certs(code=code)
    return [
        {
            "card_id": card.card_id,
            "status": card.status.value,
            "state": card.state.value,
            "issued_on": card.issued_on.isoformat(),
            "expires_on": card.expires_on.isoformat(),
            "certificates": [held_dict(h) for h in held if h.card_id == card.card_id],
        }
        for card in jpki.records.cards_of(code)
    ]


# -- registry events ----------------------------------------------------------------------------------------


@resident_app.command("event")
@jpki_errors
def resident_event(
    code: CodeOpt,
    move: Annotated[str | None, typer.Option("--move", help="転居/転入: the new address.")] = None,
    rename: Annotated[str | None, typer.Option("--rename", help="The new name.")] = None,
    death: Annotated[str | None, typer.Option("--death", help="Date of death, YYYY-MM-DD.")] = None,
    emigrate: Annotated[str | None, typer.Option("--emigrate", help="国外転出 date, YYYY-MM-DD.")] = None,
    return_to: Annotated[
        str | None, typer.Option("--return", help="国外からの転入: the new address.")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Day of a move, rename or return (default today, JST).")
    ] = None,
    municipality: Annotated[
        str | None, typer.Option("--municipality", help="New municipality code (with --move, --return).")
    ] = None,
    event_id: Annotated[
        str | None, typer.Option("--event-id", help="The sender's event id (replays change nothing).")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Record a registry event; its revocations happen now, or on its day (`jlis jpki events apply-due`)."""
    from jpki.registry import EventKind, ResidentEvent

    given = {
        EventKind.move: move,
        EventKind.rename: rename,
        EventKind.death: death,
        EventKind.emigrate: emigrate,
        EventKind.return_: return_to,
    }
    chosen = [(kind, value) for kind, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise fail("give exactly one of --move, --rename, --death, --emigrate, --return")
    kind, value = chosen[0]
    dated = kind in (EventKind.death, EventKind.emigrate)
    if dated and on is not None:
        raise fail(f"--{kind.value} carries its own date: leave out --on")
    if municipality is not None and kind not in (EventKind.move, EventKind.return_):
        raise fail("--municipality goes with --move or --return")
    day = parse_date(value, f"--{kind.value}") if dated else None
    if on is not None:
        day = parse_date(on, "--on")
    with opened_jpki(home) as jpki:
        event = ResidentEvent(
            event_id or f"cli-{secrets.token_hex(8)}",
            code,
            kind,
            day or jpki.today(),
            address=value if kind in (EventKind.move, EventKind.return_) else None,
            name=value if kind is EventKind.rename else None,
            municipality=municipality,
        )
        outcome = jpki.record_event(event, actor=actor())
    _print_outcomes([(outcome, event.on, event.kind)], as_json, single=True)


@events_app.command("apply-due")
@jpki_errors
def events_apply_due(home: HomeOpt = DEFAULT_HOME, as_json: JsonOpt = False) -> None:
    """Carry out scheduled events whose day has come, and events a crash left half done."""
    with opened_jpki(home) as jpki:
        outcomes = jpki.apply_due(actor=actor())
    _print_outcomes([(o, None, None) for o in outcomes], as_json, single=False)


def _print_outcomes(
    outcomes: list[tuple[EventOutcome, dt.date | None, EventKind | None]], as_json: bool, *, single: bool
) -> None:
    docs = []
    for outcome, on, kind in outcomes:
        doc = outcome.as_dict()
        if on is not None and kind is not None:
            doc.update(on=on.isoformat(), kind=kind.value)
        docs.append(doc)
    if as_json:
        echo_json(docs[0] if single else docs)
        return
    if not docs:
        typer.echo("nothing due")
    for doc in docs:
        replay = "" if doc["new"] else " (recorded before: nothing done again)"
        when = f" for {doc['on']}" if doc["state"] == "scheduled" and "on" in doc else ""
        typer.echo(f"event {doc['event_id']}: {doc['state']}{when}{replay}")
        for item in doc["revoked"]:
            typer.echo(f"  revoked {item['kind']:8} {item['ca']}/{item['serial']} ({item['reason']})")
        if doc["state"] == "scheduled":
            typer.echo("  run `jlis jpki events apply-due` on or after that day")


# -- certificates and notices -------------------------------------------------------------------------------


@cert_app.command("decode")
@jpki_errors
def cert_decode(
    file: Annotated[Path, typer.Argument(help="Certificate, PEM or DER.")], as_json: JsonOpt = False
) -> None:
    """The basic 4 information a JPKI signing certificate carries."""
    from jpki.fourinfo import decode
    from pki.inspect import load_certificate

    doc = decode(load_certificate(file.read_bytes())).as_dict()
    if as_json:
        echo_json(doc)
        return
    for key, value in doc.items():
        typer.echo(f"{key:20} {value}")


@jpki_app.command("notices")
@jpki_errors
def notices(
    within: Annotated[str, typer.Option("--within", help="Window, in months: Nm (e.g. 3m).")] = "3m",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Expiry notices (有効期限通知書): certificates and cards that expire within the window."""
    from rich.console import Console
    from rich.progress import Progress

    months = _months(within)
    if fmt not in ("csv", "json"):
        raise fail(f"--format {fmt!r}: use csv or json")
    with Progress(console=Console(stderr=True), transient=True) as progress:
        stage = progress.add_task("opening the home", total=3)
        with opened_jpki(home) as jpki:
            progress.update(stage, advance=1, description="listing what expires")
            docs = [n.as_dict() for n in jpki.notices(within_months=months)]
        progress.update(stage, advance=1, description=f"writing {len(docs)} notices")
        text = _notices_text(docs, fmt)
        if out is not None:
            out.write_text(text, encoding="utf-8")
        progress.update(stage, advance=1)
    if out is None:
        typer.echo(text, nl=False)
    else:
        typer.echo(f"{len(docs)} notices -> {out}", err=True)


def _months(text: str) -> int:
    match = re.fullmatch(r"\s*(\d{1,3})\s*m\s*", text)
    if match is None:
        raise fail(f"--within {text!r}: give months as Nm, e.g. 3m")
    return int(match.group(1))


def _notices_text(docs: list[dict[str, Any]], fmt: str) -> str:
    import csv
    import io
    import json

    if fmt == "json":
        return json.dumps(docs, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=NOTICE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if doc[k] is None else doc[k] for k in NOTICE_COLUMNS} for doc in docs)
    return buffer.getvalue()
