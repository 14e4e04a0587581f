"""Profile: a TOML file validated into a frozen object that builds a certificate's subject, extensions and
validity for the CA engine, and refuses keys and requests the profile does not allow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from hsm import KeyKind, MechanismUnsupported
from pki.errors import IssuanceRefused
from pki.model import ProfileId
from pki.profile.build import ExtensionSpec
from pki.profile.consistency import Parts, check_consistency
from pki.profile.context import IssueContext
from pki.profile.extensions import ExtensionCache, build_extensions, read_extensions
from pki.profile.kinds import Kind
from pki.profile.names import RequestedSubject, SubjectRules, read_subject_rules
from pki.profile.schema import Table, load_table, suggest
from pki.profile.validity import ValidityPolicy, read_validity

SHIPPED_PROFILES = Path(__file__).resolve().parent.parent / "profiles"
"""The directory of the profiles shipped with the package (``pki/profiles/*.toml``)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated certificate profile. Immutable; safe to share between threads."""

    id: ProfileId
    """The file name without ``.toml``."""
    file: str
    kind: Kind
    description: str
    keys: tuple[KeyKind, ...]
    """Subject key types the profile accepts."""
    subject_rules: SubjectRules
    extension_specs: Mapping[str, ExtensionSpec]
    """Extension sections by name, in the order the certificate carries them."""
    validity_policy: ValidityPolicy

    def subject(self, requested: RequestedSubject) -> x509.Name:
        """The subject for a requested name (a CSR's Name, a mapping attr -> value(s), or (attr, value)
        pairs): attributes in profile order, fixed values filled in, string types from the profile.
        Raises IssuanceRefused for a missing, unexpected, out-of-order or ill-typed attribute."""
        return self.subject_rules.build(requested, self.id)

    def check_key(self, public_key: object) -> KeyKind:
        """The subject key's kind, or IssuanceRefused when the profile does not accept it."""
        try:
            kind = KeyKind.of(public_key)
        except MechanismUnsupported as exc:
            raise IssuanceRefused(f"profile {self.id!r}: unsupported key: {exc}") from None
        if kind not in self.keys:
            allowed = ", ".join(k.value for k in self.keys)
            raise IssuanceRefused(
                f"profile {self.id!r}: a {kind.value} key is not allowed (allowed: {allowed})"
            )
        return kind

    def extensions(
        self, ctx: IssueContext, cache: ExtensionCache | None = None
    ) -> list[x509.Extension[x509.ExtensionType]]:
        """The certificate's extensions, in profile order. Raises IssuanceRefused for requested extensions or
        names the profile does not take from requests, and for URL placeholders the context cannot fill.
        ``cache`` keeps issuer-constant extensions between certificates of one issuing context."""
        return build_extensions(self.extension_specs, ctx, self.id, cache)

    def validity(self, ctx: IssueContext) -> tuple[dt.datetime, dt.datetime]:
        """(notBefore, notAfter) in UTC from the profile's rule, alignment and issuer cap."""
        return self.validity_policy.period(
            ctx.at, issuer_not_after=ctx.issuer_not_after, holder=ctx.attributes, profile=self.id
        )


def load_profile(path: str | Path) -> Profile:
    """Read and validate one profile file; its id is the file name without ``.toml``."""
    path = Path(path)
    return read_profile(load_table(path), ProfileId(path.stem))


def load_profiles(directory: str | Path) -> dict[str, Profile]:
    """Every ``*.toml`` profile in a directory, by id."""
    paths = sorted(Path(directory).glob("*.toml"))
    return {path.stem: load_profile(path) for path in paths}


def shipped_profiles() -> dict[str, Profile]:
    """The profiles shipped in ``pki/profiles/``."""
    return load_profiles(SHIPPED_PROFILES)


def read_profile(root: Table, profile_id: ProfileId) -> Profile:
    """Validate a parsed profile document."""
    root.expect("kind", "description", "keys", "subject", "validity", "extensions")
    kind = Kind(root.choice("kind", [k.value for k in Kind]))
    parts = Parts(
        root.file, kind, _read_keys(root), read_subject_rules(root), read_extensions(root.table("extensions"))
    )
    profile = Profile(
        id=profile_id,
        file=root.file,
        kind=kind,
        description=root.opt_string("description") or "",
        keys=parts.keys,
        subject_rules=parts.subject,
        extension_specs=parts.specs,
        validity_policy=read_validity(root),
    )
    root.finish()
    check_consistency(parts)
    return profile


def _read_keys(root: Table) -> tuple[KeyKind, ...]:
    names = root.strings("keys", '["rsa2048", "p256"]')
    if not names:
        raise root.error("keys", "no key type allowed", 'list some, e.g. keys = ["rsa2048", "p256"]')
    return tuple(dict.fromkeys(_key_kind(root, index, name) for index, name in enumerate(names)))


def _key_kind(root: Table, index: int, name: str) -> KeyKind:
    try:
        return KeyKind(name)
    except ValueError:
        choices = [k.value for k in KeyKind]
        raise root.error(f"keys[{index}]", f"unknown key type {name!r}", suggest(name, choices)) from None
