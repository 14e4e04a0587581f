"""Reading validated TOML: every value is checked for type and range, every unknown key is an error that
names the file, the dotted key and the fix (with a "did you mean" for typos)."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pki.errors import ProfileError

T = TypeVar("T")
_MISSING = object()


def load_toml(path: Path) -> Section:
    """Parse a TOML file into a Section; a syntax error is a ProfileError too."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(
            str(path), "-", f"cannot read the file ({exc.strerror})", "check the path"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), "-", f"not valid TOML: {exc}", "fix the syntax") from None
    except UnicodeDecodeError:
        raise ProfileError(str(path), "-", "not UTF-8 text", "save the file as UTF-8") from None
    return Section(str(path), "", data)


class Section:
    """One TOML table, read key by key; ``done()`` refuses whatever was not read."""

    def __init__(self, file: str, path: str, data: dict[str, Any]) -> None:
        self.file = file
        self.path = path
        self._data = data
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str, fix: str) -> ProfileError:
        return ProfileError(self.file, self.key(name), problem, fix)

    def has(self, name: str) -> bool:
        return name in self._data

    def get(self, name: str, kind: type[T], default: Any = _MISSING, fix: str = "") -> T:
        """``name`` as a ``kind`` (a bool is not an int); required unless a default is given."""
        self._read.add(name)
        if name not in self._data:
            if default is _MISSING:
                typo = difflib.get_close_matches(name, [k for k in self._data if k not in self._read], n=1)
                if typo:  # a misspelt required key: point at the misspelling, not at the absence
                    raise self.error(typo[0], "unknown key", f"did you mean {name!r}?")
                raise self.error(name, "is required", fix or f"add {name} = ...")
            return default  # type: ignore[no-any-return]
        value = self._data[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(
                name, f"must be {_kind_name(kind)}, not {_kind_name(type(value))}", fix or "fix the type"
            )
        return value

    def number(self, name: str, default: float | None) -> float | None:
        """An integer or float (not a bool); ``default`` when absent."""
        self._read.add(name)
        value = self._data.get(name, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise self.error(name, f"must be a number, not {_kind_name(type(value))}", "e.g. 24 or 0.25")
        return value

    def choice(
        self, name: str, choices: Callable[[str], T], default: Any = _MISSING, what: str = "value"
    ) -> T:
        """A string converted by ``choices`` (an enum or a parser raising ValueError)."""
        raw = self.get(name, str, default)
        if raw is default and default is not _MISSING:
            return default  # type: ignore[return-value]
        try:
            return choices(raw)
        except ValueError:
            options = [str(getattr(m, "value", m)) for m in getattr(choices, "__members__", {}).values()]
            hint = f"use one of {', '.join(options)}" if options else f"give a valid {what}"
            raise self.error(name, f"unknown {what} {raw!r}", hint) from None

    def table(self, name: str, required: bool = False) -> Section:
        value = self.get(name, dict, _MISSING if required else {})
        return Section(self.file, self.key(name), value)

    def tables(self, name: str) -> Iterator[Section]:
        """An array of tables (``[[name]]``)."""
        items = self.get(name, list, [])
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.error(
                    f"{name}[{index}]", "must be a table", f"write it as [[{name}]] or {{ ... }}"
                )
            yield Section(self.file, f"{self.key(name)}[{index}]", item)

    def strings(self, name: str, default: list[str] | None = None) -> list[str]:
        items = self.get(name, list, [] if default is None else default)
        if not all(isinstance(item, str) for item in items):
            raise self.error(name, "must be a list of strings", 'write it as ["a", "b"]')
        return list(items)

    def done(self) -> None:
        """Refuse unknown keys, suggesting the closest known one."""
        for name in self._data:
            if name not in self._read:
                close = difflib.get_close_matches(name, sorted(self._read), n=1)
                fix = (
                    f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(self._read))}"
                )
                raise self.error(name, "unknown key", fix)


def _kind_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        float: "a number",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)
