"""Where relying parties find revocation data and issuer certificates: cRLDistributionPoints (RFC 5280
§4.2.1.13), freshestCRL (§4.2.1.15) and authorityInfoAccess (§4.2.2.1)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from pki.profile.build import Build, extension, read_critical
from pki.profile.names import FixedName, read_fixed_name
from pki.profile.schema import Table
from pki.profile.templates import UriTemplate, read_templates

ISSUER = "issuer"
"""``dirname = "issuer"``: the issuer's own name, as JPKI and LGPKI CRL distribution points carry it."""


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One DistributionPoint with a fullName: an optional DirName first, then URIs (the LGPKI order)."""

    dirname: FixedName | str | None
    uris: tuple[UriTemplate, ...]

    def point(self, build: Build) -> x509.DistributionPoint:
        names: list[x509.GeneralName] = []
        if self.dirname == ISSUER:
            names.append(x509.DirectoryName(build.ctx.issuer_name))
        elif isinstance(self.dirname, FixedName):
            names.append(x509.DirectoryName(self.dirname.build()))
        names += [x509.UniformResourceIdentifier(uri.expand(build.ctx, build.profile)) for uri in self.uris]
        return x509.DistributionPoint(names, None, None, None)


@dataclass(frozen=True, slots=True)
class DistributionPointsSpec:
    """cRLDistributionPoints, or freshestCRL (the delta-CRL pointer) when ``delta`` is set."""

    delta: bool
    points: tuple[PointSpec, ...]
    critical: bool

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        points = [point.point(build) for point in self.points]
        value = x509.FreshestCRL(points) if self.delta else x509.CRLDistributionPoints(points)
        return extension(value, self.critical)


def read_crl_distribution_points(parent: Table, key: str) -> DistributionPointsSpec:
    """``crl_distribution_points``: ``points`` of ``{ dirname?, uris? }``, ``critical`` (default false)."""
    table = parent.table(key)
    # RFC 5280 §4.2.1.13: "The extension SHOULD be non-critical".
    return _read_points(table, delta=False, critical=read_critical(table, False))


def read_freshest_crl(parent: Table, key: str) -> DistributionPointsSpec:
    """``freshest_crl``: delta-CRL ``points``, as for cRLDistributionPoints (never critical)."""
    table = parent.table(key)
    return _read_points(table, delta=True, critical=read_critical(table, False, False, "RFC 5280 §4.2.1.15"))


def _read_points(table: Table, delta: bool, critical: bool) -> DistributionPointsSpec:
    table.expect("critical", "points")
    points = tuple(_read_point(item) for item in table.tables("points"))
    if not points:
        raise table.error("points", "no distribution point given", 'add points = [{ uris = ["..."] }]')
    table.finish()
    return DistributionPointsSpec(delta, points, critical)


def _read_point(table: Table) -> PointSpec:
    table.expect("dirname", "uris")
    dirname = _read_point_dirname(table)
    uris = read_templates(table, "uris")
    if dirname is None and not uris:
        raise table.error("uris", "the point names nothing", 'give uris, dirname = "issuer", or both')
    table.finish()
    return PointSpec(dirname, uris)


def _read_point_dirname(table: Table) -> FixedName | str | None:
    raw = table.raw("dirname")
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw != ISSUER:
            raise table.error(
                "dirname", f"unknown name {raw!r}", 'write "issuer" or a list of { attr, value }'
            )
        return ISSUER
    return read_fixed_name(table, "dirname")


@dataclass(frozen=True, slots=True)
class AuthorityInfoAccessSpec:
    """authorityInfoAccess: OCSP responder and caIssuers URIs (RFC 5280 §4.2.2.1)."""

    ocsp: tuple[UriTemplate, ...]
    ca_issuers: tuple[UriTemplate, ...]

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        methods = [(AuthorityInformationAccessOID.OCSP, self.ocsp)]
        methods.append((AuthorityInformationAccessOID.CA_ISSUERS, self.ca_issuers))
        value = x509.AuthorityInformationAccess(
            x509.AccessDescription(
                method, x509.UniformResourceIdentifier(uri.expand(build.ctx, build.profile))
            )
            for method, uris in methods
            for uri in uris
        )
        return extension(value, False)  # RFC 5280 §4.2.2.1: MUST be non-critical


def read_authority_info_access(parent: Table, key: str) -> AuthorityInfoAccessSpec:
    """``authority_info_access``: ``ocsp`` and ``ca_issuers`` URI templates."""
    table = parent.table(key)
    table.expect("critical", "ocsp", "ca_issuers")
    read_critical(table, False, False, "RFC 5280 §4.2.2.1")
    spec = AuthorityInfoAccessSpec(read_templates(table, "ocsp"), read_templates(table, "ca_issuers"))
    if not spec.ocsp and not spec.ca_issuers:
        raise table.error("ocsp", "no access location given", "list ocsp and/or ca_issuers URIs")
    table.finish()
    return spec
