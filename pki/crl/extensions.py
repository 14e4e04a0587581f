"""CRL extensions (RFC 5280 §5.2) and CRL entry extensions (§5.3) as DER.

The order of the CRL extensions is fixed: authorityKeyIdentifier, cRLNumber, deltaCRLIndicator,
issuingDistributionPoint, freshestCRL; entry extensions are reasonCode then invalidityDate. Any order is
valid DER; a fixed one keeps our output byte-stable (golden tests compare it with pyca's builder fed the
extensions in this same order).
"""

from __future__ import annotations

import datetime as dt

from pki.crl import der
from pki.crl.spec import CrlSpec, IssuingDistributionPoint

AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
CRL_NUMBER = "2.5.29.20"
DELTA_CRL_INDICATOR = "2.5.29.27"
ISSUING_DISTRIBUTION_POINT = "2.5.29.28"
FRESHEST_CRL = "2.5.29.46"
REASON_CODE = "2.5.29.21"
INVALIDITY_DATE = "2.5.29.24"


def extension(oid: str, value: bytes, *, critical: bool = False) -> bytes:
    """An Extension (RFC 5280 §4.1): ``critical`` is DEFAULT FALSE, so DER omits it when false."""
    flag = der.boolean(True) if critical else b""
    return der.sequence(der.oid(oid), flag, der.octet_string(value))


def crl_extensions(spec: CrlSpec) -> bytes:
    """``crlExtensions [0] EXPLICIT Extensions`` of a TBSCertList (RFC 5280 §5.1)."""
    items = [authority_key_identifier(spec.key_id), crl_number(spec.crl_number)]
    if spec.delta_base is not None:
        items.append(delta_crl_indicator(spec.delta_base))
    if spec.issuing_distribution_point is not None:
        items.append(issuing_distribution_point(spec.issuing_distribution_point))
    if spec.freshest_crl:
        items.append(freshest_crl(spec.freshest_crl))
    return der.context(0, der.sequence(*items))


def authority_key_identifier(key_id: bytes) -> bytes:
    """RFC 5280 §5.2.1: MUST be included, non-critical; the keyIdentifier form ``[0] IMPLICIT``."""
    return extension(AUTHORITY_KEY_IDENTIFIER, der.sequence(der.context(0, key_id, constructed=False)))


def crl_number(number: int) -> bytes:
    """RFC 5280 §5.2.3: MUST be included, non-critical."""
    return extension(CRL_NUMBER, der.integer(number))


def delta_crl_indicator(base_crl_number: int) -> bytes:
    """RFC 5280 §5.2.4: marks a delta CRL and names its base; critical."""
    return extension(DELTA_CRL_INDICATOR, der.integer(base_crl_number), critical=True)


def issuing_distribution_point(idp: IssuingDistributionPoint) -> bytes:
    """RFC 5280 §5.2.5: critical. Fields are ``[n] IMPLICIT`` (the module uses implicit tagging); the
    BOOLEANs are DEFAULT FALSE and DER omits them unless true."""
    fields = []
    if idp.has_name:
        fields.append(der.context(0, full_name(idp)))
    if idp.only_contains_user_certs:
        fields.append(der.context(1, b"\xff", constructed=False))
    if idp.only_contains_ca_certs:
        fields.append(der.context(2, b"\xff", constructed=False))
    return extension(ISSUING_DISTRIBUTION_POINT, der.sequence(*fields), critical=True)


def full_name(idp: IssuingDistributionPoint) -> bytes:
    """``DistributionPointName.fullName [0] IMPLICIT GeneralNames``: the URIs, then the directory name."""
    names = [uri(u, "issuing_distribution_point.uris") for u in idp.uris]
    if idp.directory_name is not None:
        names.append(directory_name(idp.directory_name.public_bytes()))
    return der.context(0, *names)


def freshest_crl(uris: tuple[str, ...]) -> bytes:
    """RFC 5280 §5.2.6: one DistributionPoint whose fullName lists the delta CRL URIs; non-critical."""
    names = der.context(0, *(uri(u, "freshest_crl") for u in uris))
    point = der.sequence(der.context(0, names))
    return extension(FRESHEST_CRL, der.sequence(point))


def uri(text: str, what: str) -> bytes:
    """GeneralName ``uniformResourceIdentifier [6] IMPLICIT IA5String``."""
    return der.context(6, der.ia5_string(text, what), constructed=False)


def directory_name(name_der: bytes) -> bytes:
    """GeneralName ``directoryName [4] Name``: EXPLICIT, since Name is a CHOICE (X.680 §31.2.7)."""
    return der.context(4, name_der)


def entry_extensions(code: int | None, invalidity_date: dt.datetime | None) -> bytes:
    """``crlEntryExtensions``, or nothing when there is nothing to say (RFC 5280 §5.3)."""
    items = []
    if code is not None:
        items.append(reason_code(code))
    if invalidity_date is not None:
        items.append(invalidity(invalidity_date))
    return der.sequence(*items) if items else b""


def reason_code(code: int) -> bytes:
    """RFC 5280 §5.3.1: CRLReason ENUMERATED, non-critical."""
    return extension(REASON_CODE, der.enumerated(code))


def invalidity(when: dt.datetime) -> bytes:
    """RFC 5280 §5.3.2: invalidityDate, always GeneralizedTime, non-critical."""
    return extension(INVALIDITY_DATE, der.generalized_time(when, "invalidity_date"))
