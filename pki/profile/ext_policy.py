"""Certificate policy extensions: certificatePolicies, policyMappings, policyConstraints, inhibitAnyPolicy."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import CertificatePoliciesOID, ExtensionOID

from pki.profile.build import Build, extension, read_critical
from pki.profile.schema import Table
from pki.profile.templates import uri_problem

ANY_POLICY = CertificatePoliciesOID.ANY_POLICY
_ANY_POLICY_NAMES = ("anyPolicy", ANY_POLICY.dotted_string)
_MAX_EXPLICIT_TEXT = 200
"""RFC 5280 §4.2.1.4: DisplayText is SIZE (1..200)."""


def read_policy_oid(table: Table, key: str) -> x509.ObjectIdentifier:
    """A policy OID; ``anyPolicy`` may be written by name."""
    text = table.string(key, '"1.2.392.200110.10.8.5.1.101.10"')
    return ANY_POLICY if text in _ANY_POLICY_NAMES else table.check_oid(key, text)


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One PolicyInformation: the policy OID with an optional CPS URI and user notice."""

    oid: x509.ObjectIdentifier
    cps_uri: str | None
    user_notice: str | None

    def information(self) -> x509.PolicyInformation:
        qualifiers: list[str | x509.UserNotice] = []
        if self.cps_uri is not None:
            qualifiers.append(self.cps_uri)
        if self.user_notice is not None:
            qualifiers.append(x509.UserNotice(None, self.user_notice))
        return x509.PolicyInformation(self.oid, qualifiers or None)


@dataclass(frozen=True, slots=True)
class CertificatePoliciesSpec:
    """certificatePolicies (RFC 5280 §4.2.1.4)."""

    policies: tuple[PolicySpec, ...]
    critical: bool

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        value = x509.CertificatePolicies([policy.information() for policy in self.policies])
        return extension(value, self.critical)


def read_certificate_policies(parent: Table, key: str) -> CertificatePoliciesSpec:
    """``certificate_policies``: ``policies`` ({ oid, cps_uri?, user_notice? }), ``critical`` (false)."""
    table = parent.table(key)
    table.expect("critical", "policies")
    policies = tuple(_read_policy(item) for item in table.tables("policies"))
    if not policies:
        raise table.error("policies", "no policy given", 'add policies = [{ oid = "..." }]')
    oids = [policy.oid for policy in policies]
    if len(set(oids)) != len(oids):
        # RFC 5280 §4.2.1.4: "A certificate policy OID MUST NOT appear more than once".
        raise table.error("policies", "a policy OID appears more than once (RFC 5280 §4.2.1.4)", "merge them")
    spec = CertificatePoliciesSpec(policies, read_critical(table, False))
    table.finish()
    return spec


def _read_policy(table: Table) -> PolicySpec:
    table.expect("oid", "cps_uri", "user_notice")
    oid = read_policy_oid(table, "oid")
    cps_uri = table.opt_string("cps_uri")
    if cps_uri is not None and (problem := uri_problem(cps_uri)) is not None:
        raise table.error("cps_uri", problem, "write an absolute URI, e.g. http://www.example.jp/cps.html")
    notice = table.opt_string("user_notice")
    if notice is not None and not 1 <= len(notice) <= _MAX_EXPLICIT_TEXT:
        raise table.error(
            "user_notice", "explicitText must be 1-200 characters (RFC 5280 §4.2.1.4)", "shorten it"
        )
    table.finish()
    return PolicySpec(oid, cps_uri, notice)


@dataclass(frozen=True, slots=True)
class PolicyMappingsSpec:
    """policyMappings (RFC 5280 §4.2.1.5): issuerDomainPolicy -> subjectDomainPolicy pairs.

    pyca does not model this extension, so its DER is encoded with asn1crypto and carried as an
    UnrecognizedExtension under the policyMappings OID.
    """

    mappings: tuple[tuple[x509.ObjectIdentifier, x509.ObjectIdentifier], ...]
    critical: bool

    def der(self) -> bytes:
        """DER of ``PolicyMappings ::= SEQUENCE OF SEQUENCE { issuerDomainPolicy, subjectDomainPolicy }``."""
        pairs = [
            {"issuer_domain_policy": issuer.dotted_string, "subject_domain_policy": subject.dotted_string}
            for issuer, subject in self.mappings
        ]
        return bytes(asn1_x509.PolicyMappings(pairs).dump())

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        value = x509.UnrecognizedExtension(ExtensionOID.POLICY_MAPPINGS, self.der())
        return x509.Extension(ExtensionOID.POLICY_MAPPINGS, self.critical, value)


def read_policy_mappings(parent: Table, key: str) -> PolicyMappingsSpec:
    """``policy_mappings``: ``mappings`` of ``{ issuer, subject }`` OIDs, ``critical`` (default true)."""
    table = parent.table(key)
    table.expect("critical", "mappings")
    mappings = tuple(_read_mapping(item) for item in table.tables("mappings"))
    if not mappings:
        raise table.error(
            "mappings", "no mapping given", 'add mappings = [{ issuer = "...", subject = "..." }]'
        )
    # RFC 5280 §4.2.1.5: "Conforming CAs SHOULD mark this extension as critical."
    spec = PolicyMappingsSpec(mappings, read_critical(table, True))
    table.finish()
    return spec


def _read_mapping(table: Table) -> tuple[x509.ObjectIdentifier, x509.ObjectIdentifier]:
    table.expect("issuer", "subject")
    pair = (read_policy_oid(table, "issuer"), read_policy_oid(table, "subject"))
    if ANY_POLICY in pair:
        # RFC 5280 §4.2.1.5: "Policies MUST NOT be mapped either to or from the special value anyPolicy".
        key = "issuer" if pair[0] == ANY_POLICY else "subject"
        raise table.error(key, "anyPolicy cannot be mapped (RFC 5280 §4.2.1.5)", "map a specific policy OID")
    table.finish()
    return pair


@dataclass(frozen=True, slots=True)
class PolicyConstraintsSpec:
    """policyConstraints (RFC 5280 §4.2.1.11): certificates to skip before an explicit policy is required
    and before policy mapping stops."""

    require_explicit_policy: int | None
    inhibit_policy_mapping: int | None

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        value = x509.PolicyConstraints(self.require_explicit_policy, self.inhibit_policy_mapping)
        return extension(value, True)  # RFC 5280 §4.2.1.11: MUST be critical


def read_policy_constraints(parent: Table, key: str) -> PolicyConstraintsSpec:
    """``policy_constraints``: ``require_explicit_policy`` and/or ``inhibit_policy_mapping`` skip counts."""
    table = parent.table(key)
    table.expect("critical", "require_explicit_policy", "inhibit_policy_mapping")
    read_critical(table, True, True, "RFC 5280 §4.2.1.11")
    spec = PolicyConstraintsSpec(
        table.opt_integer("require_explicit_policy"), table.opt_integer("inhibit_policy_mapping")
    )
    if spec.require_explicit_policy is None and spec.inhibit_policy_mapping is None:
        # RFC 5280 §4.2.1.11: "Conforming CAs MUST NOT issue certificates where policyConstraints is an
        # empty sequence."
        raise table.error(
            "require_explicit_policy", "neither constraint is given", "set one or both skip counts"
        )
    table.finish()
    return spec


@dataclass(frozen=True, slots=True)
class InhibitAnyPolicySpec:
    """inhibitAnyPolicy (RFC 5280 §4.2.1.14)."""

    skip_certs: int

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        return extension(x509.InhibitAnyPolicy(self.skip_certs), True)  # RFC 5280 §4.2.1.14: MUST be critical


def read_inhibit_any_policy(parent: Table, key: str) -> InhibitAnyPolicySpec:
    """``inhibit_any_policy``: ``skip_certs``."""
    table = parent.table(key)
    table.expect("critical", "skip_certs")
    read_critical(table, True, True, "RFC 5280 §4.2.1.14")
    spec = InhibitAnyPolicySpec(table.integer("skip_certs"))
    table.finish()
    return spec
