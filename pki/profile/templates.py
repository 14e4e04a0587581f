"""URL templates in profiles: ``{base_url}``, ``{ca_id}`` and ``{shard}`` filled from the issuing context,
so one profile serves every CA and every CRL shard (``{base_url}/crl/{ca_id}/{shard}.crl``)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from urllib.parse import urlsplit

from pki.errors import IssuanceRefused
from pki.profile.context import IssueContext
from pki.profile.schema import Table, suggest

PLACEHOLDERS = ("base_url", "ca_id", "shard")


def uri_problem(uri: str) -> str | None:
    """Why a URI is unusable in a certificate (RFC 5280 §4.2.1.6: an absolute URI in IA5String), or None."""
    if not uri.isascii() or any(ch.isspace() or ord(ch) < 0x20 for ch in uri):
        return "a URI must be ASCII without spaces (percent-encode other characters)"
    parts = urlsplit(uri)
    if not parts.scheme:
        return "a URI needs a scheme (http://, ldap://, ...)"
    if parts.scheme in ("http", "https", "ldap") and not parts.hostname:
        return f"an {parts.scheme} URI needs a host"
    return None


@dataclass(frozen=True, slots=True)
class UriTemplate:
    """A URI with placeholders, checked when the profile loads and expanded per certificate."""

    text: str
    fields: frozenset[str]

    def expand(self, ctx: IssueContext, profile: str) -> str:
        """The URI for one certificate; a placeholder the context cannot fill refuses the issuance."""
        values = {name: self._value(name, ctx, profile) for name in self.fields}
        uri = self.text.format(**values)
        problem = uri_problem(uri)
        if problem is not None:
            raise IssuanceRefused(f"profile {profile!r}: URL {uri!r}: {problem}")
        return uri

    @staticmethod
    def _value(name: str, ctx: IssueContext, profile: str) -> str:
        value = {"base_url": ctx.base_url.rstrip("/"), "ca_id": str(ctx.ca_id), "shard": ctx.shard}[name]
        if value is None or value == "":
            raise IssuanceRefused(
                f"profile {profile!r}: its URLs use {{{name}}} but the issuing CA gives none"
            )
        return str(value)


def read_template(table: Table, key: str, text: str) -> UriTemplate:
    """Parse a template: only known placeholders, no format specs, a valid URI once filled."""
    fields = _fields(table, key, text)
    problem = uri_problem(text.format(base_url="http://pki.example", ca_id="ca", shard="0"))
    if problem is not None:
        fix = 'write an absolute URI such as "{base_url}/crl/{ca_id}.crl"'
        raise table.error(key, f"{text!r}: {problem}", fix)
    return UriTemplate(text, fields)


def _fields(table: Table, key: str, text: str) -> frozenset[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        syntax = f"bad placeholder syntax in {text!r}: {exc}"
        raise table.error(key, syntax, "write {{ and }} for literal braces") from None
    names = [(name, spec or conversion) for _, name, spec, conversion in parsed if name is not None]
    for name, extra in names:
        if name not in PLACEHOLDERS or extra:
            raise table.error(key, f"unknown placeholder {{{name}}} in {text!r}", suggest(name, PLACEHOLDERS))
    return frozenset(name for name, _ in names)


def read_templates(table: Table, key: str) -> tuple[UriTemplate, ...]:
    """An array of URI templates."""
    return tuple(read_template(table, f"{key}[{i}]", text) for i, text in enumerate(table.strings(key)))
