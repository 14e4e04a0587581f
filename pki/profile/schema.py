"""Strict reading of TOML tables: each value is type-checked where it is read, and every key nobody read is an
error that names the file, the dotted key path and the likely intended key (boulder's ProfileConfig habit:
a typo in policy is never silently ignored)."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from cryptography.x509 import ObjectIdentifier

from pki.errors import ProfileError

_DOTTED_OID = re.compile(r"(0|1|2)(\.(0|[1-9][0-9]*))+")


def load_table(path: Path) -> Table:
    """Parse a TOML file into its root Table; unreadable, non-UTF-8 or malformed files are ProfileErrors."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(str(path), "(file)", f"cannot be read: {exc.strerror}", "check the path") from None
    except UnicodeDecodeError:
        raise ProfileError(str(path), "(file)", "is not UTF-8 text", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), "(syntax)", str(exc), "fix the TOML syntax") from None
    return Table(str(path), "", data)


def suggest(word: str, options: Collection[str]) -> str:
    """A fix for an unknown name: the closest option ("did you mean ...?") or the list of valid ones."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "use one of: " + ", ".join(sorted(options))


def parse_oid(text: str) -> ObjectIdentifier | None:
    """A dotted OID (``1.2.392.200149``), or None when the text is not one (X.660: first arc 0-2,
    second arc below 40 under 0 and 1)."""
    if not _DOTTED_OID.fullmatch(text):
        return None
    arcs = [int(arc) for arc in text.split(".")]
    if arcs[0] < 2 and arcs[1] >= 40:
        return None
    return ObjectIdentifier(text)


def type_name(value: object) -> str:
    """How TOML would call a Python value, for error messages."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)


class Table:
    """One TOML table under validation: its file, its dotted path and the keys read so far."""

    __slots__ = ("_data", "_known", "file", "path")

    def __init__(self, file: str, path: str, data: Mapping[str, object]) -> None:
        self.file = file
        self.path = path
        self._data = data
        self._known: set[str] = set()

    def key_path(self, key: str) -> str:
        """The dotted path of a key in this table (``extensions.key_usage.usages[1]``)."""
        if not self.path:
            return key
        return f"{self.path}{key}" if key.startswith("[") else f"{self.path}.{key}"

    def error(self, key: str, problem: str, fix: str) -> ProfileError:
        """A ProfileError about a key of this table (``key`` may carry an index: ``usages[1]``)."""
        return ProfileError(self.file, self.key_path(key), problem, fix)

    def keys(self) -> Iterator[str]:
        """The keys present, in document order (extensions are emitted in this order)."""
        return iter(self._data)

    def has(self, key: str) -> bool:
        """Whether the key is present; marks it as known."""
        self._known.add(key)
        return key in self._data

    def raw(self, key: str) -> object:
        """The value as TOML gave it, or None when absent; marks the key as known."""
        self._known.add(key)
        return self._data.get(key)

    def frozen(self) -> Mapping[str, object]:
        """A read-only view of the whole table (for plugin parameters)."""
        return MappingProxyType(dict(self._data))

    def _typed(self, key: str, kind: type[object], toml_kind: str, example: str) -> object:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"must be {toml_kind}, not {type_name(value)}", f"write {key} = {example}")
        return value

    def missing(self, key: str, example: str) -> ProfileError:
        """The error for a required key that is absent."""
        return self.error(key, "is missing", f"add {key} = {example}")

    def opt_string(self, key: str, example: str = '"..."') -> str | None:
        value = self._typed(key, str, "a string", example)
        return value if isinstance(value, str) else None

    def string(self, key: str, example: str = '"..."') -> str:
        value = self.opt_string(key, example)
        if value is None:
            raise self.missing(key, example)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._typed(key, bool, "true or false", "true")
        return value if isinstance(value, bool) else default

    def opt_integer(self, key: str, minimum: int = 0) -> int | None:
        value = self._typed(key, int, "an integer", str(minimum))
        if not isinstance(value, int):
            return None
        if value < minimum:
            raise self.error(key, f"is {value}, below the minimum {minimum}", f"use a value >= {minimum}")
        return value

    def integer(self, key: str, minimum: int = 0) -> int:
        value = self.opt_integer(key, minimum)
        if value is None:
            raise self.missing(key, str(minimum))
        return value

    def number(self, key: str, default: float) -> float:
        """An integer or float (not a boolean); ``default`` when absent."""
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, not {type_name(value)}", f"write {key} = {default:g}")
        return float(value)

    def choice(self, key: str, options: Collection[str], default: str | None = None) -> str:
        """A string that must be one of ``options`` (typos get a suggestion)."""
        example = '"' + sorted(options)[0] + '"'
        value = self.opt_string(key, example) if default is not None else self.string(key, example)
        if value is None:
            return str(default)
        if value not in options:
            raise self.error(key, f"unknown value {value!r}", suggest(value, options))
        return value

    def time_of_day(self, key: str) -> dt.time | None:
        """A local time of day, as a TOML local time (``00:00:00``) or a string ``"23:59:59"``."""
        value = self.raw(key)
        if value is None or isinstance(value, dt.time):
            return value
        if isinstance(value, str):
            try:
                return dt.time.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(key, f"is not a time of day: {value!r}", 'write it as "HH:MM:SS", e.g. "23:59:59"')

    def array(self, key: str) -> list[object] | None:
        value = self._typed(key, list, "an array", "[...]")
        return value if isinstance(value, list) else None

    def strings(self, key: str, example: str = '["..."]') -> tuple[str, ...]:
        """An array of strings; an absent key is an empty tuple."""
        items = self.array(key) or []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"{key}[{index}]", f"must be a string, not {type_name(item)}", example)
        return tuple(str(item) for item in items)

    def opt_table(self, key: str) -> Table | None:
        value = self._typed(key, dict, "a table", "{ ... }")
        return Table(self.file, self.key_path(key), value) if isinstance(value, dict) else None

    def table(self, key: str) -> Table:
        table = self.opt_table(key)
        if table is None:
            raise self.error(key, "is missing", f"add a [{self.key_path(key)}] table")
        return table

    def tables(self, key: str) -> tuple[Table, ...]:
        """An array of tables (``[[subject]]`` or ``[{...}, {...}]``); an absent key is an empty tuple."""
        items = self.array(key) or []
        return tuple(self._item_table(key, index, item) for index, item in enumerate(items))

    def _item_table(self, key: str, index: int, item: object) -> Table:
        if not isinstance(item, dict):
            raise self.error(
                f"{key}[{index}]", f"must be a table, not {type_name(item)}", "write { key = ... }"
            )
        return Table(self.file, self.key_path(f"{key}[{index}]"), item)

    def oid(self, key: str) -> ObjectIdentifier:
        """A dotted object identifier."""
        return self.check_oid(key, self.string(key, '"1.2.392.200149.8.5.1.1.20"'))

    def check_oid(self, key: str, text: str) -> ObjectIdentifier:
        oid = parse_oid(text)
        if oid is None:
            raise self.error(
                key, f"{text!r} is not an object identifier", 'write it dotted, e.g. "1.2.392.200110"'
            )
        return oid

    def expect(self, *keys: str) -> None:
        """Declare the keys this table may hold and refuse any other now, before values are checked, so a
        misspelt key is reported as such rather than as the correct key missing."""
        self._known.update(keys)
        self.finish()

    def finish(self) -> None:
        """Refuse every key nobody read: it is a typo or an option this schema does not have."""
        for key in self._data:
            if key not in self._known:
                raise self.error(
                    key, "unknown key", suggest(key, self._known) if self._known else "remove it"
                )
