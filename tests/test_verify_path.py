"""Path validation for relying parties (`pki.verify`, `jlis verify-path`), checked against `openssl verify`.

A small PKI is built with pyca at a frozen time: root A (policy pA), a cross-certificate from A to B's CA
mapping pA to pB, end entities under B asserting pB (or nothing), a cross-certificate asserting anyPolicy,
and broken certificates (expired, not yet valid, wrong signature, issued by a non-CA, revoked). Every case
runs through the `verify-path` command and through `openssl verify -policy_check` at the same `-attime`;
both must agree on accept or reject. No test reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID
from typer.testing import CliRunner

from jlis.cli.verify_cmds import verify, verify_path
from pki.clock import FixedClock
from pki.model import RevocationReason
from pki.verify import (
    ANY_POLICY,
    BadParameter,
    CrlCache,
    FetchFailed,
    MalformedInput,
    NoAnchors,
    PathValidator,
    PolicyInputs,
    Problem,
    RevinfoSource,
    RevocationMode,
    RevocationSettings,
    Verdict,
    load_certificates,
    load_crl,
)

NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)
AT = NOW + dt.timedelta(hours=1)
"""The validation time of every case (``--at`` here, ``-attime`` for openssl)."""
P_A = "1.3.6.1.4.1.99999.1.1"
P_B = "1.3.6.1.4.1.99999.2.1"
P_C = "1.3.6.1.4.1.99999.3.1"
OCSP_URL = "http://ocsp.test/"
CRL_URL = "http://crl.test/root-a.crl"
DAY = dt.timedelta(days=1)


# -- a test PKI, built with pyca -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    file: Path

    @property
    def name(self) -> x509.Name:
        return self.cert.subject


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _policy_mappings(pairs: Sequence[tuple[str, str]]) -> x509.UnrecognizedExtension:
    """policyMappings (RFC 5280 §4.2.1.5), which pyca cannot build: DER from asn1crypto."""
    der = asn1_x509.PolicyMappings(
        [{"issuer_domain_policy": a, "subject_domain_policy": b} for a, b in pairs]
    ).dump()
    return x509.UnrecognizedExtension(ExtensionOID.POLICY_MAPPINGS, der)


@dataclass
class Builder:
    directory: Path

    def issue(
        self,
        label: str,
        cn: str,
        issuer: Issued | None,
        *,
        ca: bool | None,
        policies: Sequence[str] | None = None,
        mappings: Sequence[tuple[str, str]] = (),
        key: ec.EllipticCurvePrivateKey | None = None,
        valid: tuple[dt.datetime, dt.datetime] = (NOW - DAY, NOW + 365 * DAY),
        aki: bool = True,
        sign_with: ec.EllipticCurvePrivateKey | None = None,
        revocation_urls: bool = False,
    ) -> Issued:
        key = key or ec.generate_private_key(ec.SECP256R1())
        issuer_name = issuer.name if issuer else _name(cn)
        issuer_key = issuer.key if issuer else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0])
            .not_valid_after(valid[1])
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if aki:
            aki_ext = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
            builder = builder.add_extension(aki_ext, critical=False)
        if ca is not None:
            builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        usage = (True, False, False, False, False, True, True, False, False) if ca else (True,) + (False,) * 8
        builder = builder.add_extension(x509.KeyUsage(*usage), critical=True)
        if policies is not None:
            infos = [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
            builder = builder.add_extension(x509.CertificatePolicies(infos), critical=False)
        if mappings:
            builder = builder.add_extension(_policy_mappings(mappings), critical=True)
        if revocation_urls:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL)
                        )
                    ]
                ),
                critical=False,
            ).add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier(CRL_URL)], None, None, None)]
                ),
                critical=False,
            )
        cert = builder.sign(sign_with or issuer_key, hashes.SHA256())
        file = self.directory / f"{label}.pem"
        file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Issued(cert, key, file)

    def crl(
        self,
        label: str,
        issuer: Issued,
        revoked: Sequence[tuple[x509.Certificate, x509.ReasonFlags]] = (),
        *,
        this_update: dt.datetime = NOW - dt.timedelta(minutes=30),
        next_update: dt.datetime = NOW + DAY,
    ) -> Path:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.name)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
        )
        for cert, reason in revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(NOW - dt.timedelta(hours=2))
                .add_extension(x509.CRLReason(reason), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(issuer.key, hashes.SHA256())
        file = self.directory / f"{label}.crl.pem"
        file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return file


@dataclass
class TestPki:
    __test__ = False

    builder: Builder
    certs: dict[str, Issued] = field(default_factory=dict)
    crls: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, label: str) -> Issued:
        return self.certs[label]

    def add(self, label: str, cn: str, issuer: str | None, **kwargs: Any) -> Issued:
        issued = self.builder.issue(label, cn, self.certs[issuer] if issuer else None, **kwargs)
        self.certs[label] = issued
        return issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    pki = TestPki(Builder(tmp_path_factory.mktemp("verify-path")))
    pki.add("root_a", "Root A", None, ca=True, policies=[P_A])
    # B's CA, certified by A: its pA is B's pB (RFC 5280 §4.2.1.5)
    pki.add("cross", "B CA", "root_a", ca=True, policies=[P_A], mappings=[(P_A, P_B)])
    pki.add("ee_b", "EE under B", "cross", ca=False, policies=[P_B])
    pki.add("ee_b_nopolicy", "EE under B without policy", "cross", ca=False)
    pki.add("cross_any", "B CA (anyPolicy)", "root_a", ca=True, policies=[ANY_POLICY])
    pki.add("ee_any", "EE under anyPolicy CA", "cross_any", ca=False, policies=[P_B])
    pki.add("ee_ok", "EE ok", "root_a", ca=False)
    pki.add("ee_expired", "EE expired", "root_a", ca=False, valid=(NOW - 30 * DAY, NOW - DAY))
    pki.add("ee_future", "EE not yet valid", "root_a", ca=False, valid=(NOW + DAY, NOW + 30 * DAY))
    stranger = ec.generate_private_key(ec.SECP256R1())
    pki.add("ee_badsig", "EE badly signed", "root_a", ca=False, sign_with=stranger)
    pki.add("not_ca", "Not a CA", "root_a", ca=None)
    pki.add("ee_under_not_ca", "EE under a non-CA", "not_ca", ca=False)
    pki.add("ee_revoked", "EE revoked", "root_a", ca=False)
    pki.add("ee_online", "EE with OCSP and CRL", "root_a", ca=False, revocation_urls=True)
    revoked = [(pki["ee_revoked"].cert, x509.ReasonFlags.key_compromise)]
    pki.crls["root_a"] = pki.builder.crl("root_a", pki["root_a"], revoked)
    return pki


# -- the command, run in-process -----------------------------------------------------------------------------


def cli() -> typer.Typer:
    """The two commands as `jlis` mounts them (jlis/cli/__init__.py is not ours to edit)."""
    app = typer.Typer()
    app.command("verify")(verify)
    app.command("verify-path")(verify_path)
    return app


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.out))


def run(*args: object) -> Ran:
    """Invoke the commands in-process, with stdout and stderr apart."""
    result = CliRunner().invoke(cli(), [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def openssl_verify(openssl: str, case: Case, pki: TestPki) -> subprocess.CompletedProcess[str]:
    cmd = [openssl, "verify", "-attime", str(int(AT.timestamp())), "-CAfile", str(pki[case.anchor].file)]
    for label in case.untrusted:
        cmd += ["-untrusted", str(pki[label].file)]
    cmd += ["-policy_check"]
    for policy in case.policies:
        cmd += ["-policy", policy]
    cmd += ["-explicit_policy"] if case.explicit else []
    cmd += ["-inhibit_map"] if case.inhibit_mapping else []
    cmd += ["-inhibit_any"] if case.inhibit_any else []
    if case.crl:
        cmd += ["-crl_check", "-CRLfile", str(pki.crls[case.crl])]
    return subprocess.run([*cmd, str(pki[case.cert].file)], capture_output=True, text=True)


@dataclass(frozen=True)
class Case:
    id: str
    cert: str
    verdict: Verdict
    problem: Problem | None = None
    untrusted: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    explicit: bool = False
    inhibit_mapping: bool = False
    inhibit_any: bool = False
    crl: str | None = None
    anchor: str = "root_a"

    def args(self, pki: TestPki) -> list[str | Path]:
        args: list[str | Path] = ["verify-path", pki[self.cert].file, "--anchor", pki[self.anchor].file]
        for label in self.untrusted:
            args += ["--untrusted", pki[label].file]
        for policy in self.policies:
            args += ["--policy", policy]
        args += ["--explicit-policy"] if self.explicit else []
        args += ["--inhibit-mapping"] if self.inhibit_mapping else []
        args += ["--inhibit-any"] if self.inhibit_any else []
        args += ["--crl", pki.crls[self.crl]] if self.crl else []
        return [*args, "--at", AT.isoformat(), "--json"]


VALID, INVALID = Verdict.valid, Verdict.invalid
CROSS, CROSS_ANY = ("cross",), ("cross_any",)
CASES = [
    # RFC 5280 policy inputs on the policyMappings cross-certificate
    Case("mapped-policy-accepted", "ee_b", VALID, untrusted=CROSS, policies=(P_A,), explicit=True),
    Case("mapped-policy-default-inputs", "ee_b", VALID, untrusted=CROSS),
    Case(
        "inhibit-mapping-rejected",
        "ee_b",
        INVALID,
        Problem.policy,
        CROSS,
        (P_A,),
        explicit=True,
        inhibit_mapping=True,
    ),
    Case("unmapped-policy-rejected", "ee_b", INVALID, Problem.policy, CROSS, (P_C,), explicit=True),
    Case("subject-domain-policy-rejected", "ee_b", INVALID, Problem.policy, CROSS, (P_B,), explicit=True),
    Case("explicit-policy-without-policy", "ee_b_nopolicy", INVALID, Problem.policy, CROSS, explicit=True),
    Case("no-policy-accepted-without-explicit", "ee_b_nopolicy", VALID, untrusted=CROSS),
    Case("any-policy-accepted", "ee_any", VALID, untrusted=CROSS_ANY, policies=(P_B,), explicit=True),
    Case(
        "inhibit-any-rejected",
        "ee_any",
        INVALID,
        Problem.policy,
        CROSS_ANY,
        (P_B,),
        explicit=True,
        inhibit_any=True,
    ),
    # the basic checks of RFC 5280 §6.1.3 and §6.1.4
    Case("valid", "ee_ok", VALID),
    Case("expired", "ee_expired", INVALID, Problem.expired),
    Case("not-yet-valid", "ee_future", INVALID, Problem.not_yet_valid),
    Case("wrong-signature", "ee_badsig", INVALID, Problem.bad_signature),
    Case("ca-flag-missing", "ee_under_not_ca", INVALID, Problem.not_a_ca, untrusted=("not_ca",)),
    Case("revoked", "ee_revoked", Verdict.revoked, Problem.revoked, crl="root_a"),
    Case("not-revoked", "ee_ok", VALID, crl="root_a"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_verify_path_agrees_with_openssl(case: Case, pki: TestPki, openssl: str) -> None:
    ran = run(*case.args(pki))
    expected_code = {Verdict.valid: 0, Verdict.invalid: 1, Verdict.revoked: 1}[case.verdict]
    assert ran.code == expected_code, ran.out + ran.err
    document = ran.json
    assert document["verdict"] == case.verdict.value
    assert document["problem"] == (case.problem.value if case.problem else None)
    assert document["reason"] and (document["reason"] == "valid") == (case.verdict is VALID)
    assert document["validation_time"] == AT.isoformat()
    assert document["certificate"]["subject"] == pki[case.cert].cert.subject.rfc4514_string()
    theirs = openssl_verify(openssl, case, pki)
    assert (theirs.returncode == 0) == (case.verdict is VALID), theirs.stdout + theirs.stderr


def test_a_valid_path_lists_certificate_to_anchor_and_the_mapped_policy(pki: TestPki) -> None:
    case = CASES[0]
    document = run(*case.args(pki)).json
    subjects = [c["subject"] for c in document["path"]]
    assert subjects == [pki[n].cert.subject.rfc4514_string() for n in ("ee_b", "cross", "root_a")]
    assert document["anchor"] == pki["root_a"].cert.subject.rfc4514_string()
    assert document["policies"] == [P_A], "the user-domain policy the path qualifies for"


def test_the_reason_names_what_failed(pki: TestPki) -> None:
    reasons = {c.id: run(*c.args(pki)).json["reason"] for c in CASES if c.verdict is not VALID}
    assert "expired" in reasons["expired"]
    assert "not valid until" in reasons["not-yet-valid"]
    assert "signature" in reasons["wrong-signature"]
    assert "not a CA" in reasons["ca-flag-missing"]
    assert "policies" in reasons["unmapped-policy-rejected"]
    assert "revoked" in reasons["revoked"] and reasons["revoked"].endswith("(keyCompromise)")


def test_a_revocation_carries_reason_and_time(pki: TestPki) -> None:
    case = next(c for c in CASES if c.id == "revoked")
    revoked = run(*case.args(pki)).json["revocation"]["revoked"]
    assert revoked == {
        "subject": pki["ee_revoked"].cert.subject.rfc4514_string(),
        "serial": format(pki["ee_revoked"].cert.serial_number, "x"),
        "reason": "keyCompromise",
        "time": (NOW - dt.timedelta(hours=2)).isoformat(),
    }


def test_text_output_and_exit_codes(pki: TestPki) -> None:
    ok = run("verify-path", pki["ee_ok"].file, "--anchor", pki["root_a"].file, "--at", AT.isoformat())
    assert ok.code == 0 and ok.out.startswith("valid: valid\npath: ")
    bad = run("verify-path", pki["ee_expired"].file, "--anchor", pki["root_a"].file, "--at", AT.isoformat())
    assert bad.code == 1 and bad.out.startswith("invalid: the end-entity certificate expired")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2026-11-26T10:00:00"], "give a timezone"),
        (["--at", "tomorrow"], "not an ISO 8601 time"),
        (["--policy", "not-an-oid"], "not a dotted OID"),
        (["--revocation", "sometimes"], "use require, soft-fail or off"),
    ],
    ids=["naive-time", "bad-time", "bad-policy", "bad-mode"],
)
def test_bad_parameters_are_one_line_and_exit_2(pki: TestPki, args: list[str], message: str) -> None:
    ran = run("verify-path", pki["ee_ok"].file, "--anchor", pki["root_a"].file, *args)
    assert ran.code == 2
    assert ran.err.startswith("error: ") and message in ran.err and ran.err.count("\n") == 1


def test_bad_input_files_are_one_line_and_exit_2(pki: TestPki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    missing = tmp_path / "missing.pem"
    for args in (
        [junk, "--anchor", pki["root_a"].file],
        [pki["ee_ok"].file, "--anchor", junk],
        [missing, "--anchor", pki["root_a"].file],
        [pki["ee_ok"].file, "--anchor", pki["root_a"].file, "--crl", junk],
        [pki["ee_ok"].file, "--anchor", pki["root_a"].file, "--untrusted", missing],
    ):
        ran = run("verify-path", *args)
        assert ran.code == 2, ran.out + ran.err
        assert ran.err.startswith("error: ") and ran.err.count("\n") == 1, ran.err


# -- the library ---------------------------------------------------------------------------------------------


def test_two_anchors_with_one_dn_are_told_apart_by_key(tmp_path: Path, openssl: str) -> None:
    """Every JPKI CA generation has the same DN: the path must be chosen by key, never by name alone."""
    pki = TestPki(Builder(tmp_path))
    gen1 = pki.add("gen1", "Same CA", None, ca=True)
    gen2 = pki.add("gen2", "Same CA", None, ca=True, valid=(NOW - DAY, NOW + 400 * DAY))
    assert gen1.name == gen2.name and gen1.cert.public_key() != gen2.cert.public_key()
    validator = PathValidator([gen1.cert, gen2.cert], revocation=RevocationSettings(mode=RevocationMode.off))
    for issuer in ("gen1", "gen2"):
        for aki in (True, False):  # without an AKI only the signature can tell the generations apart
            ee = pki.add(f"ee-{issuer}-{aki}", f"signed by {issuer}", issuer, ca=False, aki=aki)
            result = validator.validate(ee.cert, at=AT)
            assert result.verdict is Verdict.valid, result.reason
            assert result.anchor == pki[issuer].cert
            assert result.path == (ee.cert, pki[issuer].cert)
            other = "gen2" if issuer == "gen1" else "gen1"
            alone = PathValidator([pki[other].cert], revocation=RevocationSettings(mode=RevocationMode.off))
            refused = alone.validate(ee.cert, at=AT)
            assert refused.verdict is Verdict.invalid
            assert refused.problem in {Problem.untrusted, Problem.bad_signature}
    both = tmp_path / "both.pem"
    both.write_bytes(gen1.file.read_bytes() + gen2.file.read_bytes())
    for issuer in ("gen1", "gen2"):
        target = pki[f"ee-{issuer}-True"].file
        attime = str(int(AT.timestamp()))
        theirs = subprocess.run(
            [openssl, "verify", "-attime", attime, "-CAfile", both, target], capture_output=True
        )
        assert theirs.returncode == 0, theirs.stderr


def test_policy_inputs_are_checked_and_mapped() -> None:
    with pytest.raises(BadParameter, match="not a dotted OID"):
        PolicyInputs(frozenset({"pA"}))
    with pytest.raises(BadParameter):
        PolicyInputs(frozenset())
    assert PolicyInputs.of().user_initial_policy_set == {ANY_POLICY}
    params = PolicyInputs.of(
        [P_A, ANY_POLICY], explicit=True, inhibit_mapping=True, inhibit_any=True
    ).pyhanko()
    assert params.user_initial_policy_set == {P_A, "any_policy"}
    assert params.initial_explicit_policy and params.initial_policy_mapping_inhibit
    assert params.initial_any_policy_inhibit


def test_time_anchors_and_inputs_are_refused_when_unusable(pki: TestPki) -> None:
    with pytest.raises(NoAnchors):
        PathValidator([])
    validator = PathValidator([pki["root_a"].cert], revocation=RevocationSettings(mode=RevocationMode.off))
    with pytest.raises(BadParameter, match="timezone"):
        validator.validate(pki["ee_ok"].cert, at=dt.datetime(2026, 11, 26, 1, 0))
    with pytest.raises(MalformedInput) as bad:
        load_certificates(b"\x30\x03\x02\x01\x01", "x.der")
    assert bad.value.source == "x.der" and bad.value.what == "certificate"
    with pytest.raises(MalformedInput):
        load_crl(b"junk", "x.crl")
    with pytest.raises(BadParameter):
        RevocationSettings(ocsp_url="ftp://x")


def test_the_clock_gives_the_time_when_none_is_given(pki: TestPki) -> None:
    clock = FixedClock(NOW - 2 * DAY)  # before ee_ok's notBefore
    validator = PathValidator(
        [pki["root_a"].cert], revocation=RevocationSettings(mode=RevocationMode.off), clock=clock
    )
    assert validator.validate(pki["ee_ok"].cert).problem is Problem.not_yet_valid
    clock.advance(3 * DAY)
    result = validator.validate(pki["ee_ok"].cert)
    assert result.verdict is Verdict.valid and result.validation_time == NOW + DAY


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [
        (RevocationMode.require, Verdict.indeterminate),
        (RevocationMode.soft_fail, VALID),
        (RevocationMode.off, VALID),
    ],
    ids=str,
)
def test_revocation_modes_without_any_revocation_data(
    pki: TestPki, mode: RevocationMode, verdict: Verdict
) -> None:
    settings = RevocationSettings(mode=mode, ocsp=False, fetch_crls=False)
    result = PathValidator([pki["root_a"].cert], revocation=settings).validate(pki["ee_ok"].cert, at=AT)
    assert result.verdict is verdict
    if verdict is Verdict.indeterminate:
        assert result.problem is Problem.revocation_unavailable
        assert "no revocation information" in result.reason


# -- revocation data fetched through an injected fetcher -----------------------------------------------------


Route = Callable[[bytes | None, Mapping[str, str]], bytes]


class FakeFetcher:
    """Answers from a table of routes; records every request."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def get(self, url: str, *, headers: Mapping[str, str]) -> bytes:
        return self._answer("GET", url, None, headers)

    def post(self, url: str, body: bytes, *, headers: Mapping[str, str]) -> bytes:
        return self._answer("POST", url, body, headers)

    def _answer(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> bytes:
        self.requests.append((method, url, dict(headers)))
        if url not in self.routes:
            raise FetchFailed(url, "HTTP 404")
        return self.routes[url](body, headers)


def ocsp_answer(pki: TestPki, status: ocsp.OCSPCertStatus | None, token: str | None = None) -> Route:
    """An OCSP responder signing with root A's key: ``status`` for ee_online, or ``unauthorized`` when
    ``status`` is None or a token is wanted and missing."""

    def answer(body: bytes | None, headers: Mapping[str, str]) -> bytes:
        assert body is not None
        request = ocsp.load_der_ocsp_request(body)
        assert request.serial_number == pki["ee_online"].cert.serial_number
        if status is None or (token is not None and headers.get("Authorization") != f"Bearer {token}"):
            unauthorized = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
            return unauthorized.public_bytes(serialization.Encoding.DER)
        revoked = status is ocsp.OCSPCertStatus.REVOKED
        root = pki["root_a"]
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=pki["ee_online"].cert,
                issuer=root.cert,
                algorithm=hashes.SHA1(),
                cert_status=status,
                this_update=NOW,
                next_update=NOW + DAY,
                revocation_time=NOW - dt.timedelta(hours=3) if revoked else None,
                revocation_reason=x509.ReasonFlags.affiliation_changed if revoked else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, root.cert)
            .sign(root.key, hashes.SHA256())
        )
        return response.public_bytes(serialization.Encoding.DER)

    return answer


def crl_answer(pki: TestPki, revoked: bool = False) -> Route:
    entries = [(pki["ee_online"].cert, x509.ReasonFlags.superseded)] if revoked else []
    der = load_crl(pki.builder.crl("online", pki["root_a"], entries).read_bytes(), "online")
    return lambda body, headers: der


def online_validator(pki: TestPki, fetcher: FakeFetcher, **settings: Any) -> PathValidator:
    return PathValidator(
        [pki["root_a"].cert],
        revocation=RevocationSettings(**settings),
        fetcher=fetcher,
        crl_cache=CrlCache(),
        clock=FixedClock(AT),
    )


def test_ocsp_is_preferred_and_the_crl_never_fetched(pki: TestPki) -> None:
    fetcher = FakeFetcher({OCSP_URL: ocsp_answer(pki, ocsp.OCSPCertStatus.GOOD), CRL_URL: crl_answer(pki)})
    result = online_validator(pki, fetcher).validate(pki["ee_online"].cert, at=AT)
    assert result.verdict is Verdict.valid, result.reason
    assert [(m, u) for m, u, _ in fetcher.requests] == [("POST", OCSP_URL)]
    assert fetcher.requests[0][2]["Content-Type"] == "application/ocsp-request"
    assert [(u.source, u.outcome) for u in result.revinfo] == [(RevinfoSource.ocsp, "fetched")]


def test_ocsp_revoked_gives_reason_and_time(pki: TestPki) -> None:
    fetcher = FakeFetcher({OCSP_URL: ocsp_answer(pki, ocsp.OCSPCertStatus.REVOKED)})
    result = online_validator(pki, fetcher).validate(pki["ee_online"].cert, at=AT)
    assert result.verdict is Verdict.revoked and result.problem is Problem.revoked
    assert result.revocation is not None
    assert result.revocation.reason is RevocationReason.affiliation_changed
    assert result.revocation.time == NOW - dt.timedelta(hours=3)
    assert result.revocation.serial == pki["ee_online"].cert.serial_number


def test_the_bearer_token_is_sent_and_unauthorized_is_indeterminate(pki: TestPki) -> None:
    routes = {OCSP_URL: ocsp_answer(pki, ocsp.OCSPCertStatus.GOOD, token="s3cret")}
    without = FakeFetcher(routes)
    result = online_validator(pki, without, fetch_crls=False).validate(pki["ee_online"].cert, at=AT)
    assert result.verdict is Verdict.indeterminate and result.problem is Problem.revocation_unavailable
    assert "unauthorized" in result.reason
    assert "Authorization" not in without.requests[0][2]
    assert [u.outcome for u in result.revinfo] == ["unauthorized"]
    with_token = FakeFetcher(routes)
    result = online_validator(pki, with_token, fetch_crls=False, token="s3cret").validate(
        pki["ee_online"].cert, at=AT
    )
    assert result.verdict is Verdict.valid, result.reason
    assert with_token.requests[0][2]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(RevocationSettings(token="s3cret"))


def test_a_configured_responder_replaces_the_aia_one(pki: TestPki) -> None:
    fetcher = FakeFetcher({"http://mine.test/ocsp": ocsp_answer(pki, ocsp.OCSPCertStatus.GOOD)})
    validator = online_validator(pki, fetcher, ocsp_url="http://mine.test/ocsp", fetch_crls=False)
    assert validator.validate(pki["ee_online"].cert, at=AT).verdict is Verdict.valid
    assert [u for _, u, _ in fetcher.requests] == ["http://mine.test/ocsp"]


def test_crl_is_the_fallback_and_is_cached_until_next_update(pki: TestPki) -> None:
    fetcher = FakeFetcher({CRL_URL: crl_answer(pki)})  # the responder is down (404)
    cache, clock = CrlCache(), FixedClock(AT)
    validator = PathValidator(
        [pki["root_a"].cert], revocation=RevocationSettings(), fetcher=fetcher, crl_cache=cache, clock=clock
    )
    first = validator.validate(pki["ee_online"].cert)
    assert first.verdict is Verdict.valid, first.reason
    assert [(u.source, u.outcome) for u in first.revinfo] == [
        (RevinfoSource.ocsp, "HTTP 404"),
        (RevinfoSource.crl, "fetched"),
    ]
    clock.advance(dt.timedelta(hours=2))
    second = validator.validate(pki["ee_online"].cert)
    assert second.verdict is Verdict.valid and second.revinfo[-1].outcome == "cached"
    assert [u for _, u, _ in fetcher.requests].count(CRL_URL) == 1 and len(cache) == 1
    clock.advance(DAY)  # past the CRL's nextUpdate
    after = validator.validate(pki["ee_online"].cert)
    assert [u for _, u, _ in fetcher.requests].count(CRL_URL) == 2, "refetched after nextUpdate"
    assert after.verdict is Verdict.indeterminate, "the refetched CRL is stale as well"
    assert "CRL" in after.reason


def test_a_fetched_crl_can_revoke(pki: TestPki) -> None:
    fetcher = FakeFetcher({CRL_URL: crl_answer(pki, revoked=True)})
    result = online_validator(pki, fetcher, ocsp=False).validate(pki["ee_online"].cert, at=AT)
    assert result.verdict is Verdict.revoked
    assert result.revocation is not None and result.revocation.reason is RevocationReason.superseded


def test_nothing_reachable_is_indeterminate_with_every_failure_named(pki: TestPki) -> None:
    result = online_validator(pki, FakeFetcher({})).validate(pki["ee_online"].cert, at=AT)
    assert result.verdict is Verdict.indeterminate
    assert f"OCSP {OCSP_URL}: HTTP 404" in result.reason and f"CRL {CRL_URL}: HTTP 404" in result.reason
    soft = online_validator(pki, FakeFetcher({}), mode=RevocationMode.soft_fail)
    assert soft.validate(pki["ee_online"].cert, at=AT).verdict is Verdict.valid


def test_httpx_fetcher_against_a_local_server(pki: TestPki) -> None:
    """The real HTTP client against a real (loopback) server: CRL by GET, OCSP by POST with the token."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pki.verify import HttpxFetcher

    crl_der = crl_answer(pki)(None, {})
    answer = ocsp_answer(pki, ocsp.OCSPCertStatus.GOOD, token="t0ken")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(crl_der if self.path == "/a.crl" else None)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self._send(answer(body, {k: v for k, v in self.headers.items()}))

        def _send(self, body: bytes | None) -> None:
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with HttpxFetcher(timeout=5) as fetcher:
            assert fetcher.get(f"{base}/a.crl", headers={}) == crl_der
            with pytest.raises(FetchFailed, match="HTTP 404"):
                fetcher.get(f"{base}/missing.crl", headers={})
            settings = RevocationSettings(ocsp_url=f"{base}/ocsp", fetch_crls=False, token="t0ken")
            validator = PathValidator(
                [pki["root_a"].cert], revocation=settings, fetcher=fetcher, clock=FixedClock(AT)
            )
            assert validator.validate(pki["ee_online"].cert, at=AT).verdict is Verdict.valid
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(FetchFailed) as refused:
        HttpxFetcher(timeout=2).get(f"{base}/a.crl", headers={})
    assert refused.value.url == f"{base}/a.crl"
