"""One-line errors for every CLI command: a typed library error becomes ``error: <message>`` and exit 1."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from hsm.errors import HsmError
from pki.errors import PkiError

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn library and file errors into one line on stderr and a non-zero exit (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (HsmError, PkiError) as exc:
            raise fail(exc.message) from None
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise fail(f"{exc.strerror or type(exc).__name__}:{where}") from None

    return wrapper
