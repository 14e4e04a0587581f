"""`jlis jpki issue-batch FILE.csv`: register residents and issue one card each, resumable.

Every row is checked before anything is written: a bad row names its number and nothing is registered or
issued. Each card's batch key is ``<sha256 of the file, 16 hex>:<resident code>``, so running the same file
again after a crash resumes the cards begun and issues no second card or certificate.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jlis.cli.common import DEFAULT_HOME, HomeOpt, JsonOpt, actor
from jlis.cli.errors import fail
from jlis.cli.jpki_common import echo_json, jpki_errors, opened_jpki
from jlis.cli.jpki_pins import PinSourceOpt, issue_pins

if TYPE_CHECKING:
    from jpki.lifecycle import IssuedCard, Jpki
    from jpki.registry import Resident

REQUIRED = ("code", "name", "birth", "sex", "address", "municipality")
OPTIONAL = ("guardianship",)
_YES = {"1", "true", "yes", "y"}
_NO = {"", "0", "false", "no", "n"}


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    """1 for the first row after the header."""
    resident: Resident


@dataclass(slots=True)
class Summary:
    batch: str
    rows: int
    residents_added: int = 0
    residents_kept: int = 0
    cards_new: int = 0
    cards_resumed: int = 0
    cards_already_issued: int = 0
    signing_certificates: int = 0
    without_signing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@jpki_errors
def issue_batch(
    file: Annotated[
        Path, typer.Argument(help="CSV: code,name,birth,sex,address,municipality[,guardianship].")
    ],
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, help="Cards whose certificates go in one commit.")
    ] = 200,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes making the cards' keys (file tokens).")
    ] = 2,
    pin_source: PinSourceOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    as_json: JsonOpt = False,
) -> None:
    """Register the residents of a CSV file (those already registered are kept) and issue a card each."""
    from rich.console import Console
    from rich.progress import Progress

    from jpki.lifecycle import CardOrder

    data = file.read_bytes()
    rows = parse_rows(data, file)
    batch = hashlib.sha256(data).hexdigest()[:16]
    with opened_jpki(home) as jpki:
        known = _registered(jpki, rows)
        summary = Summary(batch, len(rows), residents_kept=len(known))
        signing = any(jpki.signing_eligible(known.get(r.resident.code, r.resident)) is None for r in rows)
        sign_pin, auth_pin = issue_pins(pin_source, signing=signing)
        keys = [f"{batch}:{row.resident.code}" for row in rows]
        begun = jpki.records.batch_cards(keys)
        orders = [
            CardOrder(row.resident.code, sign_pin, auth_pin, batch_key=key)
            for row, key in zip(rows, keys, strict=True)
        ]
        with Progress(console=Console(stderr=True), transient=True) as progress:
            adding = progress.add_task("registering residents", total=len(rows) - len(known))
            for row in rows:
                if row.resident.code not in known:
                    jpki.add_resident(row.resident, actor=actor())
                    summary.residents_added += 1
                    progress.advance(adding)
            issuing = progress.add_task("issuing cards", total=len(orders))
            issued = jpki.issue_cards(
                orders,
                actor=actor(),
                chunk=chunk,
                workers=workers,
                progress=lambda n: progress.advance(issuing, n),
            )
    _count(summary, issued, begun)
    if as_json:
        echo_json(summary.as_dict())
        return
    _print_summary(summary)


def parse_rows(data: bytes, file: Path) -> list[Row]:
    """Every row as a checked Resident; the first bad row is a one-line error naming it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail(f"{file} is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or ()]
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise fail(f"{file}: header {problem}; use {','.join(REQUIRED)}[,guardianship]")
    reader.fieldnames = header
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, values in enumerate(reader, 1):
        row = _row(number, values)
        if row.resident.code in seen:
            raise fail(
                f"row {number}: resident code {row.resident.code} already on row {seen[row.resident.code]}"
            )
        seen[row.resident.code] = number
        rows.append(row)
    if not rows:
        raise fail(f"{file}: no rows after the header")
    return rows


def _row(number: int, values: dict[str | Any, str | Any]) -> Row:
    from jpki.errors import JpkiError
    from jpki.fourinfo import FourInfo, Sex
    from jpki.registry import Resident

    if None in values or any(values.get(name) is None for name in REQUIRED):
        raise fail(f"row {number}: expected {len(REQUIRED)} or {len(REQUIRED) + 1} fields")
    cell = {key: str(value).strip() for key, value in values.items()}
    flag = cell.get("guardianship", "").lower()
    if flag not in _YES | _NO:
        raise fail(f"row {number}: guardianship {flag!r}: use 1/0, true/false or yes/no")
    try:
        birth = dt.date.fromisoformat(cell["birth"])
    except ValueError:
        raise fail(f"row {number}: birth is not a YYYY-MM-DD date") from None
    try:
        info = FourInfo(
            name=cell["name"], birth=birth, sex=Sex.from_code(cell["sex"]), address=cell["address"]
        )
        return Row(number, Resident(cell["code"], info, cell["municipality"], guardianship=flag in _YES))
    except JpkiError as exc:
        raise fail(f"row {number}: {exc.message}") from None


def _registered(jpki: Jpki, rows: list[Row]) -> dict[str, Resident]:
    """The residents of the file already registered (kept as they are); a deceased one is an error."""
    from jpki.registry import ResidentStatus, UnknownResident

    known: dict[str, Resident] = {}
    for row in rows:
        try:
            found = jpki.resident(row.resident.code)
        except UnknownResident:
            continue
        if found.status is ResidentStatus.deceased:
            raise fail(f"row {row.number}: resident {found.code} is deceased: no card")
        known[found.code] = found
    return known


def _count(summary: Summary, issued: list[IssuedCard], begun: dict[str, Any]) -> None:
    from jpki.lifecycle import CardRecordState

    states = {record.code: record.state for record in begun.values()}
    for card in issued:
        state = states.get(card.code)
        if state is None:
            summary.cards_new += 1
        elif state is CardRecordState.issued:
            summary.cards_already_issued += 1
        else:
            summary.cards_resumed += 1
        if card.signing is None:
            summary.without_signing += 1
        else:
            summary.signing_certificates += 1


def _print_summary(summary: Summary) -> None:
    typer.echo(f"batch {summary.batch}: {summary.rows} rows")
    typer.echo(f"residents added {summary.residents_added}, already registered {summary.residents_kept}")
    typer.echo(
        f"cards new {summary.cards_new}, resumed {summary.cards_resumed}, "
        f"already issued {summary.cards_already_issued}"
    )
    typer.echo(
        f"signing certificates {summary.signing_certificates}, "
        f"without signing (under 15 or guardianship) {summary.without_signing}"
    )
