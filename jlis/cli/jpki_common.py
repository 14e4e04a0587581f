"""What the `jlis jpki` commands share: one-line errors for JPKI errors too, the opened lifecycle, dates."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from jlis.cli.errors import fail, one_line_errors

if TYPE_CHECKING:
    from jpki.lifecycle import HeldCert, Jpki

P = ParamSpec("P")
R = TypeVar("R")


def jpki_errors(func: Callable[P, R]) -> Callable[P, R]:
    """:func:`one_line_errors` plus the JpkiError tree (registry, card, PIN, 4 information errors), whose
    messages never hold personal data or a PIN."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from jpki.errors import JpkiError  # here, not at import: `jpki` loads the whole lifecycle

        try:
            return func(*args, **kwargs)
        except JpkiError as exc:
            raise fail(exc.message) from None

    return one_line_errors(wrapper)


@contextmanager
def opened_jpki(home: Path) -> Iterator[Jpki]:
    """The JPKI lifecycle over a home (``jlis init``), closed afterwards."""
    from jpki.lifecycle import Jpki

    jpki = Jpki.open(home)
    try:
        yield jpki
    finally:
        jpki.close()


def echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))


def parse_date(text: str, option: str) -> dt.date:
    """A YYYY-MM-DD date given to ``option``; anything else is a one-line error."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option}: write the date as YYYY-MM-DD") from None


def held_dict(held: HeldCert) -> dict[str, Any]:
    """A certificate on a card, for display."""
    return {
        "kind": held.kind.value,
        "ca": held.ca_id,
        "serial": f"{held.serial:x}",
        "not_after": held.not_after.isoformat(),
        "state": held.state.value,
    }


def held_line(doc: dict[str, Any]) -> str:
    return f"  {doc['kind']:8} {doc['ca']}/{doc['serial']}  until {doc['not_after'][:10]}  {doc['state']}"
