"""Where card PINs come from: ``--pin-source FILE``, else ``JLIS_SIGN_PIN`` / ``JLIS_AUTH_PIN`` (and
``JLIS_NEW_PIN`` for a change), else a no-echo prompt on a terminal. Never a command-line value; a PIN is
never printed or logged (it travels as an :class:`hsm.Secret`), and its format is checked before any card
or record is touched.

A pin-source file holds one PIN per line, in the order each command names: ``card issue`` and
``issue-batch`` the signing PIN then the auth PIN (one line, the auth PIN alone, where no holder gets a
signing certificate); ``card change-pin`` the old PIN then the new one; ``card sign`` the signing PIN.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hsm.secrets import Secret, read_pin_source
from jlis.cli.errors import fail

if TYPE_CHECKING:
    from jpki.card import KeySlot

SIGN_PIN_ENV = "JLIS_SIGN_PIN"
AUTH_PIN_ENV = "JLIS_AUTH_PIN"
NEW_PIN_ENV = "JLIS_NEW_PIN"

PinSourceOpt = Annotated[
    Path | None,
    typer.Option(
        "--pin-source",
        help="File with the PINs, one per line (else JLIS_SIGN_PIN / JLIS_AUTH_PIN, else a prompt).",
    ),
]


def _lines(pin_source: Path, expected: tuple[int, ...], layout: str) -> list[Secret]:
    """The PINs of a pin-source file, one per line; a count outside ``expected`` is an error."""
    text = read_pin_source(pin_source).reveal()
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if len(lines) not in expected or not all(lines):
        raise fail(f"pin-source file {pin_source}: write {layout}, one per line")
    return [Secret(line) for line in lines]


def _env_or_prompt(env_var: str, label: str, *, confirm: bool = False) -> Secret:
    value = os.environ.get(env_var)
    if value:
        return Secret(value)
    if not _interactive():
        raise fail(f"no {label} given: use --pin-source FILE, set {env_var}, or run on a terminal")
    typed: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)
    if not typed:
        raise fail(f"no {label} given")
    return Secret(typed)


def _interactive() -> bool:
    """Whether a prompt can be answered (a terminal): else a missing PIN is an error, never a hang."""
    return sys.stdin.isatty()


def _check(slot: KeySlot, pin: Secret) -> Secret:
    """The PIN's format, checked now (a malformed PIN must not leave half a card behind)."""
    from jpki.card import PIN_POLICIES

    PIN_POLICIES[slot].check(pin)
    return pin


def issue_pins(pin_source: Path | None, *, signing: bool) -> tuple[Secret | None, Secret]:
    """(signing PIN or None, auth PIN) for new cards; the signing PIN only when a holder gets one."""
    from jpki.card import KeySlot

    if pin_source is not None:
        pins = _lines(pin_source, (2,) if signing else (1, 2), "the signing PIN then the auth PIN")
        sign_pin, auth_pin = (pins[0], pins[1]) if len(pins) == 2 else (None, pins[0])
    else:
        sign_pin = _env_or_prompt(SIGN_PIN_ENV, "signing PIN", confirm=True) if signing else None
        auth_pin = _env_or_prompt(AUTH_PIN_ENV, "auth PIN", confirm=True)
    if not signing:
        sign_pin = None
    return (None if sign_pin is None else _check(KeySlot.SIGNING, sign_pin)), _check(KeySlot.AUTH, auth_pin)


def signing_pin(pin_source: Path | None) -> Secret:
    """The signing PIN, to sign with the card."""
    from jpki.card import KeySlot

    if pin_source is not None:
        return _check(KeySlot.SIGNING, _lines(pin_source, (1,), "the signing PIN")[0])
    return _check(KeySlot.SIGNING, _env_or_prompt(SIGN_PIN_ENV, "signing PIN"))


def change_pins(slot: KeySlot, pin_source: Path | None) -> tuple[Secret, Secret]:
    """(old, new) PIN of a slot. The old one's format is not checked here: the card refuses a malformed PIN
    without spending a try."""
    from jpki.card import KeySlot

    if pin_source is not None:
        old, new = _lines(pin_source, (2,), "the old PIN then the new PIN")
    else:
        env_var = SIGN_PIN_ENV if slot is KeySlot.SIGNING else AUTH_PIN_ENV
        old = _env_or_prompt(env_var, f"current {slot.value} PIN")
        new = _env_or_prompt(NEW_PIN_ENV, f"new {slot.value} PIN", confirm=True)
    return old, _check(slot, new)
