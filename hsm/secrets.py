"""PINs and passphrases: where they come from, and a wrapper that never shows them.

A secret comes from a pin-source file (a CLI option or the key URI's ``pin-source`` attribute) or from an
environment variable; never from a command-line value or from the URI itself (RFC 7512 ``pin-value`` is
refused).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hsm.errors import PinMissing

PKCS11_PIN_ENV = "JLIS_PKCS11_PIN"
"""Environment variable holding the PKCS#11 user PIN."""
PKCS11_SO_PIN_ENV = "JLIS_PKCS11_SO_PIN"
"""Environment variable holding the PKCS#11 security-officer PIN (key ceremonies only)."""
KEY_PASSPHRASE_ENV = "JLIS_KEY_PASSPHRASE"
"""Environment variable holding the passphrase of software (``file:``) keys."""

_MAX_SECRET_FILE = 4096


class Secret:
    """A PIN or passphrase. ``repr`` and ``str`` never show the value; ``reveal()`` does, on purpose."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise PinMissing("PIN or passphrase", "it is empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        import hmac

        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))


def read_pin_source(source: str | Path) -> Secret:
    """Read a secret from a pin-source: a file path or a ``file:`` URI. The final newline is dropped."""
    text = str(source)
    if text.startswith("|"):
        raise PinMissing("PIN", "pin-source programs ('|...') are not supported; use a file")
    if text.startswith("file://"):
        text = text[len("file://") :]
        if text.startswith("localhost/"):
            text = text[len("localhost") :]
    elif text.startswith("file:"):
        text = text[len("file:") :]
    path = Path(text)
    try:
        with path.open("rb") as fh:
            raw = fh.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise PinMissing(
            "PIN or passphrase", f"cannot read pin-source file {path} ({exc.strerror})"
        ) from None
    if len(raw) > _MAX_SECRET_FILE:
        raise PinMissing("PIN or passphrase", f"pin-source file {path} is too large to be a PIN")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PinMissing("PIN or passphrase", f"pin-source file {path} is not UTF-8 text") from None
    value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise PinMissing("PIN or passphrase", f"pin-source file {path} is empty")
    return Secret(value)


def resolve_secret(
    *,
    pin_source: str | Path | None,
    uri_pin_source: str | None,
    env_var: str,
    environ: Mapping[str, str] | None = None,
) -> Secret | None:
    """The secret from, in order: an explicit pin-source, the URI's pin-source, the environment variable."""
    if pin_source is not None:
        return read_pin_source(pin_source)
    if uri_pin_source is not None:
        return read_pin_source(uri_pin_source)
    env = os.environ if environ is None else environ
    value = env.get(env_var)
    if value:
        return Secret(value)
    return None
