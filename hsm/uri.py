"""Key URIs: ``file:DIR`` for software keys and ``pkcs11:`` (RFC 7512) for tokens.

A URI names a backend (a key store directory, or a token) and may name one key in it (``object=``/``id=``
for PKCS#11). Unknown attributes are errors, so a typo never silently widens a token match; a PIN in the
URI (``pin-value``) is refused: PINs come from pin-source files or the environment only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

from hsm.errors import InvalidKeyUri

# RFC 7512 §2.3: path attributes and query attributes we understand.
_PATH_ATTRS = frozenset(
    {
        "token",
        "manufacturer",
        "model",
        "serial",
        "object",
        "id",
        "type",
        "slot-id",
        "slot-description",
        "slot-manufacturer",
        "library-manufacturer",
        "library-description",
        "library-version",
    }
)
_QUERY_ATTRS = frozenset({"module-path", "module-name", "pin-source"})
_OBJECT_TYPES = frozenset({"private", "public", "cert", "secret-key", "data"})


@dataclass(frozen=True, slots=True)
class FileKeyUri:
    """A directory of encrypted PKCS#8 key files."""

    directory: Path
    pin_source: str | None = None
    object: str | None = None
    """The key's label, when the URI names one key (``file:DIR?object=LABEL``)."""

    def display(self) -> str:
        return f"key store {self.directory}"


@dataclass(frozen=True, slots=True)
class Pkcs11KeyUri:
    """The parts of an RFC 7512 URI that select a module, a token and optionally one object."""

    token: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    type: str | None = None
    module_path: str | None = None
    module_name: str | None = None
    pin_source: str | None = None

    def display(self) -> str:
        """How errors name this token: its label or serial, never a PIN."""
        if self.token is not None:
            return f"token {self.token!r}"
        if self.serial is not None:
            return f"token with serial {self.serial!r}"
        return "the first PKCS#11 token"


KeyUri = FileKeyUri | Pkcs11KeyUri


def parse_key_uri(text: str) -> KeyUri:
    """Parse a ``file:`` or ``pkcs11:`` key URI; anything else raises InvalidKeyUri."""
    if text.startswith("pkcs11:"):
        return _parse_pkcs11(text)
    if text.startswith("file:"):
        return _parse_file(text)
    raise InvalidKeyUri(text, "the scheme must be 'file:' or 'pkcs11:'")


def _parse_file(text: str) -> FileKeyUri:
    body, _, query = text[len("file:") :].partition("?")
    if body.startswith("//"):
        authority, slash, rest = body[2:].partition("/")
        if authority not in ("", "localhost"):
            raise InvalidKeyUri(text, f"remote host {authority!r} is not supported")
        body = slash + rest
    if not body:
        raise InvalidKeyUri(text, "no directory given")
    found = dict(_query_pairs(text, query))
    for name in found:
        if name not in ("pin-source", "object"):
            raise InvalidKeyUri(text, _unknown(name, "query", {"pin-source", "object"}))
    return FileKeyUri(
        Path(_decode(text, body)), pin_source=found.get("pin-source"), object=found.get("object")
    )


def _parse_pkcs11(text: str) -> Pkcs11KeyUri:
    body, _, query = text[len("pkcs11:") :].partition("?")
    path: dict[str, str] = {}
    raw_id: bytes | None = None
    for part in filter(None, body.split(";")):
        name, eq, value = part.partition("=")
        if not eq:
            raise InvalidKeyUri(text, f"attribute {name!r} has no value")
        if name.startswith("x-"):
            continue  # vendor attributes are allowed and ignored (RFC 7512 §2.3)
        if name not in _PATH_ATTRS:
            raise InvalidKeyUri(text, _unknown(name, "path", _PATH_ATTRS))
        if name in path:
            raise InvalidKeyUri(text, f"attribute {name!r} given twice")
        if name == "id":
            raw_id = unquote_to_bytes(value)  # CKA_ID is binary: not text
            path[name] = value
        else:
            path[name] = _decode(text, value)
    queries: dict[str, str] = {}
    for name, value in _query_pairs(text, query):
        if name == "pin-value":
            raise InvalidKeyUri(
                text, "a PIN may not be given in the URI; use a pin-source file or JLIS_PKCS11_PIN"
            )
        if name.startswith("x-"):
            continue
        if name not in _QUERY_ATTRS:
            raise InvalidKeyUri(text, _unknown(name, "query", _QUERY_ATTRS))
        queries[name] = value
    if path.get("type") is not None and path["type"] not in _OBJECT_TYPES:
        raise InvalidKeyUri(text, f"type must be one of {sorted(_OBJECT_TYPES)}")
    return Pkcs11KeyUri(
        token=path.get("token"),
        manufacturer=path.get("manufacturer"),
        model=path.get("model"),
        serial=path.get("serial"),
        slot_id=_slot_id(text, path.get("slot-id")),
        object=path.get("object"),
        id=raw_id,
        type=path.get("type"),
        module_path=queries.get("module-path"),
        module_name=queries.get("module-name"),
        pin_source=queries.get("pin-source"),
    )


def _query_pairs(uri: str, query: str) -> list[tuple[str, str]]:
    pairs = []
    seen: set[str] = set()
    for part in filter(None, query.split("&")):
        name, eq, value = part.partition("=")
        if not eq:
            raise InvalidKeyUri(uri, f"query attribute {name!r} has no value")
        if name in seen:
            raise InvalidKeyUri(uri, f"query attribute {name!r} given twice")
        seen.add(name)
        pairs.append((name, _decode(uri, value)))
    return pairs


def _decode(uri: str, value: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InvalidKeyUri(uri, "a percent-encoded value is not UTF-8") from None


def _slot_id(uri: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidKeyUri(uri, "slot-id must be a decimal number")
    return int(value)


def _unknown(name: str, where: str, known: frozenset[str] | set[str]) -> str:
    return f"unknown {where} attribute {name!r} (known: {', '.join(sorted(known))})"
