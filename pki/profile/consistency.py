"""Checks across sections of a profile: options that are valid alone but contradict each other or RFC 5280
once combined (a CA without keyCertSign, an EC key with keyEncipherment, policyMappings in an EE profile)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.x509.oid import ExtendedKeyUsageOID

from hsm import KeyKind
from pki.errors import ProfileError
from pki.profile.build import ExtensionSpec
from pki.profile.ext_basic import BasicConstraintsSpec, ExtendedKeyUsageSpec, KeyUsageSpec
from pki.profile.ext_names import AltNameSpec
from pki.profile.kinds import Kind
from pki.profile.names import SubjectRules

_CA_ONLY = ("policy_mappings", "policy_constraints", "inhibit_any_policy", "name_constraints")
_RSA_ONLY_USAGES = frozenset({"keyEncipherment", "dataEncipherment"})
_EC_ONLY_USAGES = frozenset({"keyAgreement", "encipherOnly", "decipherOnly"})


@dataclass(frozen=True, slots=True)
class Parts:
    """The sections of a profile, read and valid on their own."""

    file: str
    kind: Kind
    keys: tuple[KeyKind, ...]
    subject: SubjectRules
    specs: Mapping[str, ExtensionSpec]

    def error(self, key: str, problem: str, fix: str) -> ProfileError:
        return ProfileError(self.file, key, problem, fix)

    def key_usage(self) -> frozenset[str] | None:
        spec = self.specs.get("key_usage")
        return spec.usages if isinstance(spec, KeyUsageSpec) else None


def check_consistency(parts: Parts) -> None:
    """Raise a ProfileError for the first contradiction found."""
    for check in _CHECKS:
        check(parts)


def _check_ca_basics(parts: Parts) -> None:
    """RFC 5280 §4.2.1.9 / §4.2.1.3: cA is asserted exactly when keyCertSign is; CA certificates carry a
    subjectKeyIdentifier (§4.2.1.2) and a non-empty subject (§4.1.2.6)."""
    bc = parts.specs.get("basic_constraints")
    is_ca = isinstance(bc, BasicConstraintsSpec) and bc.ca
    cert_sign = "keyCertSign" in (parts.key_usage() or ())
    if parts.kind.is_ca and not is_ca:
        raise parts.error("extensions.basic_constraints", f"a {parts.kind} profile needs ca = true", _BC_FIX)
    if not parts.kind.is_ca and (is_ca or cert_sign):
        raise parts.error("kind", f"a {parts.kind} profile cannot make a CA certificate", 'set kind = "ca"')
    if parts.kind.is_ca and not cert_sign:
        raise parts.error(
            "extensions.key_usage", "a CA profile needs keyCertSign (RFC 5280 §4.2.1.3)", _KU_FIX
        )


def _check_ca_identifiers(parts: Parts) -> None:
    if parts.kind.is_ca and "subject_key_identifier" not in parts.specs:
        fix = "add subject_key_identifier = true"
        raise parts.error(
            "extensions.subject_key_identifier", "CA certificates need it (RFC 5280 §4.2.1.2)", fix
        )
    if parts.kind.is_ca and parts.subject.may_be_empty:
        fix = "make an attribute required or fixed"
        raise parts.error("subject", "a CA needs a non-empty subject (RFC 5280 §4.1.2.6)", fix)


def _check_authority_key_id(parts: Parts) -> None:
    """RFC 5280 §4.2.1.1: required except in self-signed certificates (only ``ca`` profiles make those)."""
    if parts.kind is not Kind.ca and "authority_key_identifier" not in parts.specs:
        fix = "add authority_key_identifier = true"
        raise parts.error("extensions.authority_key_identifier", "required by RFC 5280 §4.2.1.1", fix)


def _check_ca_only_extensions(parts: Parts) -> None:
    for name in _CA_ONLY:
        if name in parts.specs and not parts.kind.is_ca:
            problem = f"only CA and cross-certificate profiles may carry {name}"
            raise parts.error(f"extensions.{name}", problem, 'remove it or set kind = "ca" / "cross"')


def _check_ocsp(parts: Parts) -> None:
    """RFC 6960 §4.2.2.2: a delegated responder carries id-kp-OCSPSigning; only responders take nocheck."""
    if "ocsp_no_check" in parts.specs and parts.kind is not Kind.ocsp_responder:
        fix = 'remove it or set kind = "ocsp-responder"'
        raise parts.error("extensions.ocsp_no_check", "only OCSP responder certificates carry it", fix)
    eku = parts.specs.get("extended_key_usage")
    signs_ocsp = isinstance(eku, ExtendedKeyUsageSpec) and ExtendedKeyUsageOID.OCSP_SIGNING in eku.purposes
    if parts.kind is Kind.ocsp_responder and not signs_ocsp:
        fix = 'add extended_key_usage = { usages = ["OCSPSigning"] }'
        raise parts.error("extensions.extended_key_usage", "an OCSP responder needs OCSPSigning", fix)


def _check_key_usage_against_keys(parts: Parts) -> None:
    """RFC 5480 §3 / RFC 8813: EC keys do not encipher keys or data; RSA keys do not do key agreement."""
    usages = parts.key_usage() or frozenset()
    has_ec = any(not kind.is_rsa for kind in parts.keys)
    has_rsa = any(kind.is_rsa for kind in parts.keys)
    if has_ec and usages & _RSA_ONLY_USAGES:
        bad = ", ".join(sorted(usages & _RSA_ONLY_USAGES))
        raise parts.error("extensions.key_usage.usages", f"{bad} cannot be used with EC keys", _KEYS_FIX)
    if has_rsa and usages & _EC_ONLY_USAGES:
        bad = ", ".join(sorted(usages & _EC_ONLY_USAGES))
        raise parts.error("extensions.key_usage.usages", f"{bad} cannot be used with RSA keys", _KEYS_FIX)


def _check_empty_subject(parts: Parts) -> None:
    """RFC 5280 §4.2.1.6: with an empty subject, subjectAltName is required and critical."""
    if not parts.subject.may_be_empty:
        return
    san = parts.specs.get("subject_alt_name")
    if not isinstance(san, AltNameSpec) or not any(name.required for name in san.names):
        fix = "add a required subject attribute or a required subject_alt_name entry"
        raise parts.error("subject", "the subject may be empty and nothing names the subject", fix)
    if not san.critical:
        fix = "set critical = true, or make a subject attribute required"
        raise parts.error(
            "extensions.subject_alt_name.critical", "the subject may be empty (RFC 5280 §4.2.1.6)", fix
        )


_BC_FIX = "add basic_constraints = { critical = true, ca = true }"
_KU_FIX = 'add key_usage = { critical = true, usages = ["keyCertSign", "cRLSign"] }'
_KEYS_FIX = "split the profile by key type or drop the usage"
_CHECKS: tuple[Callable[[Parts], None], ...] = (
    _check_ca_basics,
    _check_ca_identifiers,
    _check_authority_key_id,
    _check_ca_only_extensions,
    _check_ocsp,
    _check_key_usage_against_keys,
    _check_empty_subject,
)
