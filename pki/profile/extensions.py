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


def build_extensions(
    specs: Mapping[str, ExtensionSpec], ctx: IssueContext, profile: str
) -> list[x509.Extension[x509.ExtensionType]]:
    """The extensions of one certificate. Refuses requested extensions and names the profile does not take."""
    pool = RequestPool.from_context(ctx, _requested_names(specs, ctx, profile), profile)
    build = Build(ctx, pool, profile)
    built = [spec.extension(build) for spec in specs.values()]
    pool.check_used()
    return [ext for ext in built if ext is not None]


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
