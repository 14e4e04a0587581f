"""Options and helpers shared by the PKI commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pki.runtime import Pki

HomeOpt = Annotated[
    Path,
    typer.Option("--home", envvar="JLIS_HOME", show_envvar=True, help="PKI home directory (default ./var)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DEFAULT_HOME = Path("var")


def actor() -> str:
    """Who acts, for the audit log: the operator's login on this machine."""
    return f"operator:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"


@contextmanager
def opened(home: Path) -> Iterator[Pki]:
    """The PKI of a home, closed afterwards."""
    from pki.runtime import Pki

    pki = Pki.open(home)
    try:
        yield pki
    finally:
        pki.close()
