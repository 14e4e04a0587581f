"""The ``[extensions]`` section: one reader per extension name, and building a certificate's extensions in the
order the profile lists them. Requested (CSR) extensions are accepted only where the profile takes values
from the request."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from pki.errors import IssuanceRefused
from pki.profile import ext_access, ext_basic, ext_names, ext_policy
from pki.profile.build import Build, ExtensionSpec
from pki.profile.context import IssueContext
from pki.profile.general_names import RequestPool
from pki.profile.schema import Table, suggest

Reader = Callable[[Table, str], ExtensionSpec | None]
"""Reads one extension section (``parent``, ``key``); None when a presence flag is false."""

READERS: Mapping[str, Reader] = {
    "basic_constraints": ext_basic.read_basic_constraints,
    "key_usage": ext_basic.read_key_usage,
    "extended_key_usage": ext_basic.read_extended_key_usage,
    "subject_key_identifier": ext_basic.read_subject_key_identifier,
    "authority_key_identifier": ext_basic.read_authority_key_identifier,
    "certificate_policies": ext_policy.read_certificate_policies,
    "policy_mappings": ext_policy.read_policy_mappings,
    "policy_constraints": ext_policy.read_policy_constraints,
    "inhibit_any_policy": ext_policy.read_inhibit_any_policy,
    "name_constraints": ext_names.read_name_constraints,
    "subject_alt_name": ext_names.read_subject_alt_name,
    "issuer_alt_name": ext_names.read_issuer_alt_name,
    "crl_distribution_points": ext_access.read_crl_distribution_points,
    "freshest_crl": ext_access.read_freshest_crl,
    "authority_info_access": ext_access.read_authority_info_access,
    "ocsp_no_check": ext_basic.read_ocsp_no_check,
}


def read_extensions(table: Table) -> dict[str, ExtensionSpec]:
    """Every extension section, keyed by its name, in document order."""
    specs: dict[str, ExtensionSpec] = {}
    for key in list(table.keys()):
        reader = READERS.get(key)
        if reader is None:
            raise table.error(key, "unknown extension", suggest(key, READERS))
        spec = reader(table, key)
        if spec is not None:
            specs[key] = spec
    table.finish()
    return specs


ISSUER_CONSTANT: frozenset[type] = frozenset(
    (
        ext_basic.KeyUsageSpec,
        ext_basic.ExtendedKeyUsageSpec,
        ext_basic.BasicConstraintsSpec,
        ext_basic.AuthorityKeyIdentifierSpec,
        ext_basic.OcspNoCheckSpec,
        ext_policy.CertificatePoliciesSpec,
        ext_policy.PolicyMappingsSpec,
        ext_policy.PolicyConstraintsSpec,
        ext_policy.InhibitAnyPolicySpec,
        ext_names.NameConstraintsSpec,
        ext_access.DistributionPointsSpec,
        ext_access.AuthorityInfoAccessSpec,
    )
)
"""Spec types whose extension depends only on the issuer (key, name, id, base URL) and the CRL shard, never
on the subject key or the request: what :class:`ExtensionCache` may keep; others build per certificate."""

ExtensionCache = dict[tuple[str, int | None], "x509.Extension[x509.ExtensionType]"]
"""Issuer-constant extensions already built, by (section name, shard). Valid for one issuing context only:
one CA certificate, key and base URL (a CertificateAuthority keeps one per profile)."""


def build_extensions(
    specs: Mapping[str, ExtensionSpec],
    ctx: IssueContext,
    profile: str,
    cache: ExtensionCache | None = None,
) -> list[x509.Extension[x509.ExtensionType]]:
    """The extensions of one certificate. Refuses requested extensions and names the profile does not take.

    With a ``cache``, issuer-constant extensions are built once per shard and reused (the caller guarantees
    the cache belongs to this issuing context)."""
    pool = RequestPool.from_context(ctx, _requested_names(specs, ctx, profile), profile)
    build = Build(ctx, pool, profile)
    built: list[x509.Extension[x509.ExtensionType]] = []
    for name, spec in specs.items():
        if cache is not None and type(spec) in ISSUER_CONSTANT:
            key = (name, ctx.shard)
            ext = cache.get(key)
            if ext is None:
                ext = cache[key] = spec.extension(build)  # type: ignore[assignment]  # never None for these
        else:
            ext = spec.extension(build)
        if ext is not None:
            built.append(ext)
    pool.check_used()
    return built


def _requested_names(
    specs: Mapping[str, ExtensionSpec], ctx: IssueContext, profile: str
) -> list[x509.GeneralName]:
    """The names of a CSR's subjectAltName; any other requested extension is refused."""
    names: list[x509.GeneralName] = []
    for requested in ctx.requested_extensions:
        if requested.oid != ExtensionOID.SUBJECT_ALTERNATIVE_NAME or not _takes_san(specs):
            raise IssuanceRefused(_refusal(requested, profile))
        if isinstance(requested.value, x509.SubjectAlternativeName):
            names.extend(requested.value)
    return names


def _takes_san(specs: Mapping[str, ExtensionSpec]) -> bool:
    san = specs.get("subject_alt_name")
    return isinstance(san, ext_names.AltNameSpec) and san.takes_from_request


def _refusal(requested: x509.Extension[x509.ExtensionType], profile: str) -> str:
    name = getattr(requested.oid, "_name", requested.oid.dotted_string)
    return (
        f"profile {profile!r}: the request asks for the {name} extension, which this profile does not take "
        "from requests (only subjectAltName entries marked from_request = true are)"
    )
