"""JPKI semantics on top of :mod:`pki.verify`: a signature made with a My Number Card, checked by the
generic verifier, with the signer's basic 4 information (基本4情報) decoded from the signing certificate.

::

    validator = jpki_validator(production=True)              # the real J-LIS CAs, every generation
    checked = verify_signature(p7s, validator, content=document)
    checked.verdict, checked.reason, checked.four_info

Every generation of a JPKI CA carries the same DN (``OU=JPKI for digital signature`` since 2015), so the
anchors are told apart by key: :class:`pki.verify.PathValidator` builds paths by key identifier and
signature, never by name alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from jpki.errors import FourInfoError, NoFourInfo
from jpki.fourinfo import FourInfo, decode
from pki.clock import Clock
from pki.verify import (
    CrlCache,
    Fetcher,
    PathValidator,
    PolicyInputs,
    Problem,
    Revocation,
    RevocationSettings,
    Verdict,
)
from pki.verify.cms import SignatureVerification, verify_cms

SIGNING_POLICY = "1.2.392.200149.8.5.1.1.20"
"""certificatePolicies of real JPKI signing certificates (jpki-facts.md §1 [V]); pass it in
:class:`pki.verify.PolicyInputs` to accept nothing else."""
AUTH_POLICY = "1.2.392.200149.8.5.1.3.30"
"""certificatePolicies of JPKI user-authentication certificates (jpki-facts.md §1 [S])."""


@dataclass(frozen=True)
class JpkiSignatureVerification:
    """A CMS verification with the signer's basic 4 information.

    ``four_info`` is decoded when the verdict is valid, or revoked for the signer certificate itself (a
    revoked certificate still tells who signed, and where they lived then); it is the holder's information
    as of issuance, current only when the verdict is valid. An authentication certificate carries none
    (``four_info`` None, ``four_info_problem`` says why).
    """

    result: SignatureVerification
    four_info: FourInfo | None
    four_info_problem: str | None = None

    @property
    def verdict(self) -> Verdict:
        return self.result.verdict

    @property
    def reason(self) -> str:
        return self.result.reason

    @property
    def problem(self) -> Problem | None:
        return self.result.problem

    @property
    def signer(self) -> x509.Certificate | None:
        return self.result.signer

    @property
    def path(self) -> tuple[x509.Certificate, ...]:
        return self.result.path

    @property
    def signing_time(self) -> dt.datetime | None:
        return self.result.signing_time

    @property
    def revocation(self) -> Revocation | None:
        return self.result.revocation


def production_anchors(kind: str = "signing") -> list[x509.Certificate]:
    """The real J-LIS CA certificates of ``kind`` (``signing`` or ``auth``), every published generation
    (same DN, different keys). Public data, from ``../shared/reference/jpki/``."""
    if kind not in _PRODUCTION:
        raise ValueError(f"unknown JPKI CA kind {kind!r}: use signing or auth")
    return [x509.load_pem_x509_certificate(pem.encode()) for pem in _PRODUCTION[kind].values()]


def jpki_validator(
    anchors: Sequence[x509.Certificate] = (),
    *,
    production: bool = False,
    revocation: RevocationSettings | None = None,
    fetcher: Fetcher | None = None,
    crl_cache: CrlCache | None = None,
    clock: Clock | None = None,
) -> PathValidator:
    """A :class:`PathValidator` for JPKI signatures: the given anchors, plus the real signing CAs with
    ``production``. Revocation is required by default (a JPKI signing certificate is revoked on every
    move or name change, so its status matters)."""
    pinned = [*anchors, *(production_anchors("signing") if production else [])]
    return PathValidator(pinned, revocation=revocation, fetcher=fetcher, crl_cache=crl_cache, clock=clock)


def verify_signature(
    signature: bytes,
    validator: PathValidator,
    *,
    content: bytes | None = None,
    certificates: Sequence[x509.Certificate] = (),
    crls: Sequence[bytes] = (),
    ocsp_responses: Sequence[bytes] = (),
    policy: PolicyInputs | None = None,
    at: dt.datetime | None = None,
    at_signing_time: bool = False,
) -> JpkiSignatureVerification:
    """:func:`pki.verify.cms.verify_cms` plus the signer's basic 4 information."""
    result = verify_cms(
        signature,
        validator,
        content=content,
        certificates=certificates,
        crls=crls,
        ocsp_responses=ocsp_responses,
        policy=policy,
        at=at,
        at_signing_time=at_signing_time,
    )
    return with_four_info(result)


def with_four_info(result: SignatureVerification) -> JpkiSignatureVerification:
    """Attach the basic 4 information when J-LIS vouches for the signer certificate: the verdict is valid,
    or it is revoked and the revoked certificate is the signer's (its signature was checked before its
    status). A certificate that merely names a JPKI CA is never read."""
    if result.signer is None or not _vouched_for(result):
        return JpkiSignatureVerification(result, None, "no anchor vouches for the signer certificate")
    try:
        return JpkiSignatureVerification(result, decode(result.signer))
    except NoFourInfo as exc:
        return JpkiSignatureVerification(result, None, exc.message)
    except FourInfoError as exc:
        return JpkiSignatureVerification(result, None, exc.message)


def _vouched_for(result: SignatureVerification) -> bool:
    if result.verdict is Verdict.valid:
        return True
    revoked = result.revocation
    return (
        result.verdict is Verdict.revoked
        and revoked is not None
        and result.signer is not None
        and revoked.serial == result.signer.serial_number
        and revoked.subject == result.signer.subject.rfc4514_string()
    )


# The real JPKI CA certificates (public data, ../shared/reference/jpki/*.pem), embedded so the package
# ships them. Generation 1 expired on 2025-10-19 but still anchors signatures validated at an earlier time.
_PRODUCTION: dict[str, dict[str, str]] = {
    "signing": {
        "sign_ca_2015": (
            "-----BEGIN CERTIFICATE-----\n"
            "MIIFETCCA/mgAwIBAgIBATANBgkqhkiG9w0BAQsFADCBgDELMAkGA1UEBhMCSlAx\n"
            "DTALBgNVBAoMBEpQS0kxIzAhBgNVBAsMGkpQS0kgZm9yIGRpZ2l0YWwgc2lnbmF0\n"
            "dXJlMT0wOwYDVQQLDDRKYXBhbiBBZ2VuY3kgZm9yIExvY2FsIEF1dGhvcml0eSBJ\n"
            "bmZvcm1hdGlvbiBTeXN0ZW1zMB4XDTE1MTAyMDAyNDAyOFoXDTI1MTAxOTE0NTk1\n"
            "OVowgYAxCzAJBgNVBAYTAkpQMQ0wCwYDVQQKDARKUEtJMSMwIQYDVQQLDBpKUEtJ\n"
            "IGZvciBkaWdpdGFsIHNpZ25hdHVyZTE9MDsGA1UECww0SmFwYW4gQWdlbmN5IGZv\n"
            "ciBMb2NhbCBBdXRob3JpdHkgSW5mb3JtYXRpb24gU3lzdGVtczCCASIwDQYJKoZI\n"
            "hvcNAQEBBQADggEPADCCAQoCggEBANfhWTqnpAtEvBNZGuhoXSo5dzJLLhd+XuwN\n"
            "Ez9VIZkWQbt3u3YmswI2szvojYQybMsLN+13DR9zCAesuSkBe80fyJUMi6brGoVI\n"
            "z1Q0HhhMLQj5jSnOvvijo4Zrp89i3jl81l0X3942iTg8LyakAsaAHjyNeXCDB3rz\n"
            "R8/aqXpqX06tQRqIexYuk3JrWKn6TZ0Cy3UukYZDmypL+QaAYj8gIN5/FVPDrowq\n"
            "eqdI8hysHzzACZbb47E0EMtJhL/3B9X8gyQ2pehsm5bBBYKS6UDp1MjFmLPpV6W2\n"
            "i7IUS0X+h38aSPwq7K1FxL7XnTqG/lwDYSMzrXAVYWtqquC6KwECAwEAAaOCAZIw\n"
            "ggGOMA4GA1UdDwEB/wQEAwIBBjCBrgYDVR0RBIGmMIGjpIGgMIGdMQswCQYDVQQG\n"
            "EwJKUDEnMCUGA1UECgwe5YWs55qE5YCL5Lq66KqN6Ki844K144O844OT44K5MTAw\n"
            "LgYDVQQLDCflhaznmoTlgIvkurroqo3oqLzjgrXjg7zjg5PjgrnnvbLlkI3nlKgx\n"
            "MzAxBgNVBAsMKuWcsOaWueWFrOWFseWbo+S9k+aDheWgseOCt+OCueODhuODoOap\n"
            "n+anizAPBgNVHRMBAf8EBTADAQH/MIGaBgNVHR8EgZIwgY8wgYyggYmggYakgYMw\n"
            "gYAxCzAJBgNVBAYTAkpQMQ0wCwYDVQQKDARKUEtJMSMwIQYDVQQLDBpKUEtJIGZv\n"
            "ciBkaWdpdGFsIHNpZ25hdHVyZTE9MDsGA1UECww0SmFwYW4gQWdlbmN5IGZvciBM\n"
            "b2NhbCBBdXRob3JpdHkgSW5mb3JtYXRpb24gU3lzdGVtczAdBgNVHQ4EFgQUDQNM\n"
            "uzTQcU9F5Focr9j9FD+rVKcwDQYJKoZIhvcNAQELBQADggEBAJWYNfX827RsgL0q\n"
            "6MAFfyMq+bUbi9Kz2FJm73u0/lM2Z03d4ZAam7InzwLIHol/vRA1TNbDcPthU7eM\n"
            "Bu0PcrGfANWykjhvyu8KorM+Rlpc3XNcyljhR96LcTWUTUdMmqH1ZVQNkDJF+ZAT\n"
            "pxihwvnvKh700JwmrQZ2YySNw/7wulWqais90LGNHIYxYK1IJ5uv2Q18IPUbuzW+\n"
            "1fwy6UPdA1OBdbdjX9LFCNK8EBSBs5nuelGnltbKIbtFPqfjWSOLib9o1TpTV1wH\n"
            "rRK542bWqPBKJGUl8hVuzmkYo8Lr9z6lL35N1zWFiNfIHbKraaqmP5zCoz3RmYYW\n"
            "p0jCbJ8=\n"
            "-----END CERTIFICATE-----\n"
        ),
        "sign_ca_2023": (
            "-----BEGIN CERTIFICATE-----\n"
            "MIIFFDCCA/ygAwIBAgIEBnxqITANBgkqhkiG9w0BAQsFADCBgDELMAkGA1UEBhMC\n"
            "SlAxDTALBgNVBAoMBEpQS0kxIzAhBgNVBAsMGkpQS0kgZm9yIGRpZ2l0YWwgc2ln\n"
            "bmF0dXJlMT0wOwYDVQQLDDRKYXBhbiBBZ2VuY3kgZm9yIExvY2FsIEF1dGhvcml0\n"
            "eSBJbmZvcm1hdGlvbiBTeXN0ZW1zMB4XDTIzMDcxNjAwNTAyN1oXDTMzMDcxNTE0\n"
            "NTk1OVowgYAxCzAJBgNVBAYTAkpQMQ0wCwYDVQQKDARKUEtJMSMwIQYDVQQLDBpK\n"
            "UEtJIGZvciBkaWdpdGFsIHNpZ25hdHVyZTE9MDsGA1UECww0SmFwYW4gQWdlbmN5\n"
            "IGZvciBMb2NhbCBBdXRob3JpdHkgSW5mb3JtYXRpb24gU3lzdGVtczCCASIwDQYJ\n"
            "KoZIhvcNAQEBBQADggEPADCCAQoCggEBANi0xL81Wl6UyoSYgP4lRONGzgOoHZLm\n"
            "hKYn7R78djBrh6ViwZ3UNT2gj1FbApWdPZxyPDG37RXJBzY4qjujYgWG5bDEnkRJ\n"
            "fMGG+xsuHkQ1zBf2rxSbwmfWjJmD0zriVKUmOJCbzNCZyZt6OreVjQcueeWx5nZY\n"
            "SzJt8yG6O9GQj+OE0UiN+zweAIfMDnP9kjGIzOG3ZoDnr+3wqv/WPfHkKZKknOl3\n"
            "oagtasKaHXZmZvmtiEpG1b70P2dlgeywDDpBCyfP+QpR5BrueXnHjvqX7G0uyGiQ\n"
            "ndL+DAt9cycIQergXIrMdOax2wDP/ZPSe1SR1JIFKPDarfKZZUZ3iUkCAwEAAaOC\n"
            "AZIwggGOMA4GA1UdDwEB/wQEAwIBBjCBrgYDVR0RBIGmMIGjpIGgMIGdMQswCQYD\n"
            "VQQGEwJKUDEnMCUGA1UECgwe5YWs55qE5YCL5Lq66KqN6Ki844K144O844OT44K5\n"
            "MTAwLgYDVQQLDCflhaznmoTlgIvkurroqo3oqLzjgrXjg7zjg5PjgrnnvbLlkI3n\n"
            "lKgxMzAxBgNVBAsMKuWcsOaWueWFrOWFseWbo+S9k+aDheWgseOCt+OCueODhuOD\n"
            "oOapn+anizAPBgNVHRMBAf8EBTADAQH/MIGaBgNVHR8EgZIwgY8wgYyggYmggYak\n"
            "gYMwgYAxCzAJBgNVBAYTAkpQMQ0wCwYDVQQKDARKUEtJMSMwIQYDVQQLDBpKUEtJ\n"
            "IGZvciBkaWdpdGFsIHNpZ25hdHVyZTE9MDsGA1UECww0SmFwYW4gQWdlbmN5IGZv\n"
            "ciBMb2NhbCBBdXRob3JpdHkgSW5mb3JtYXRpb24gU3lzdGVtczAdBgNVHQ4EFgQU\n"
            "0h6lWJVhfpOtv5ZrlBq07fZT8I8wDQYJKoZIhvcNAQELBQADggEBANLq5fwgQlvb\n"
            "owToAGecatiTa2rSCpRNNibDgNrqgorIvwS1mixEAItJWEpXaWq+3l/mN0cNW9kO\n"
            "ZsH526Wy9XblvmsQm2CfTB8ltp7kfkiIHIIg3OWnRBbxAd+I6AsvuiE8N3RIZBTK\n"
            "E5N/08WxlMPd03wkcgiyT6yu/G57tI7oS0e6FDW31BVdS4JyuXWHs78rgrxrGmcT\n"
            "1L/I6TeG+cQn+MCCMp7TD5GXYtUdrx9Q2mmrSR7wf2ZNHiUtYq9hTkbnF0Mt4BUa\n"
            "Ew1Bqtch0qlmVQG67YTUerI8rBIsDulJcwzDeVZ5P0UD3TBwLmM9t088Bgrv6is7\n"
            "dFPT0JEqNwU=\n"
            "-----END CERTIFICATE-----\n"
        ),
    },
    "auth": {
        "auth_ca_2015": (
            "-----BEGIN CERTIFICATE-----\n"
            "MIIFIDCCBAigAwIBAgIBATANBgkqhkiG9w0BAQsFADCBgjELMAkGA1UEBhMCSlAx\n"
            "DTALBgNVBAoMBEpQS0kxJTAjBgNVBAsMHEpQS0kgZm9yIHVzZXIgYXV0aGVudGlj\n"
            "YXRpb24xPTA7BgNVBAsMNEphcGFuIEFnZW5jeSBmb3IgTG9jYWwgQXV0aG9yaXR5\n"
            "IEluZm9ybWF0aW9uIFN5c3RlbXMwHhcNMTUxMDIwMDMwODEzWhcNMjUxMDE5MTQ1\n"
            "OTU5WjCBgjELMAkGA1UEBhMCSlAxDTALBgNVBAoMBEpQS0kxJTAjBgNVBAsMHEpQ\n"
            "S0kgZm9yIHVzZXIgYXV0aGVudGljYXRpb24xPTA7BgNVBAsMNEphcGFuIEFnZW5j\n"
            "eSBmb3IgTG9jYWwgQXV0aG9yaXR5IEluZm9ybWF0aW9uIFN5c3RlbXMwggEiMA0G\n"
            "CSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDErMrTwOIy0V7LHYCBttzaAqhetfoo\n"
            "Jf8F0YMSGVIBnZDzxKz4toNDWY4mN935Uo9saPTsTtsIRed5azFAekE3VhTKSrfh\n"
            "A39uGssJBUEifqxay3WY8XiAIPE5jB5B8Gc6Ked9GvmzwA7TVNxg5M9q5I0+gxtJ\n"
            "2ocqMWOI7A8tfL2UpwOqyVYKRZVXjKIkBPIbYrNLdZrAki3FsCCyl7rR47NOt3sL\n"
            "ZW1oz2fxJUZubD7oAXzKmZhofU9z3KQG6dgTaNzOpnPKhnxbTwXM68zQW52H8oki\n"
            "r/6gJ23gAr+fR8Z+IMuKkCj7df+7Lv+ab/3ZIncb01+QL5XEgHs7RLrHAgMBAAGj\n"
            "ggGdMIIBmTAOBgNVHQ8BAf8EBAMCAQYwgbcGA1UdEQSBrzCBrKSBqTCBpjELMAkG\n"
            "A1UEBhMCSlAxJzAlBgNVBAoMHuWFrOeahOWAi+S6uuiqjeiovOOCteODvOODk+OC\n"
            "uTE5MDcGA1UECwww5YWs55qE5YCL5Lq66KqN6Ki844K144O844OT44K55Yip55So\n"
            "6ICF6Ki85piO55SoMTMwMQYDVQQLDCrlnLDmlrnlhazlhbHlm6PkvZPmg4XloLHj\n"
            "grfjgrnjg4bjg6DmqZ/mp4swDwYDVR0TAQH/BAUwAwEB/zCBnAYDVR0fBIGUMIGR\n"
            "MIGOoIGLoIGIpIGFMIGCMQswCQYDVQQGEwJKUDENMAsGA1UECgwESlBLSTElMCMG\n"
            "A1UECwwcSlBLSSBmb3IgdXNlciBhdXRoZW50aWNhdGlvbjE9MDsGA1UECww0SmFw\n"
            "YW4gQWdlbmN5IGZvciBMb2NhbCBBdXRob3JpdHkgSW5mb3JtYXRpb24gU3lzdGVt\n"
            "czAdBgNVHQ4EFgQUlWeVG1ynDYSg//HYWofxqrE0A4UwDQYJKoZIhvcNAQELBQAD\n"
            "ggEBACJnlGS30OV191IiCvFKB2tGFS1Czn56eV4COTzlNr+Ghona96bCy6bCdQvc\n"
            "RrbOMFK/S71umIO9ITR/eYUHhyt5aJv8wljNGctDUzvOzFvwkDs2HOLfv8n+/L8I\n"
            "6rRwIozyY58lUzcIFqe/gx0lLupQ9QsM+X/wiA+6oSyV8/yrM+c7aoGKRSQ/PFFV\n"
            "1nVTS7G6VYDrKOMKsvrh4b5buK3JPk7hc7AqRMx4lFzyJg+tq6Qy62aL4lCoIqKf\n"
            "mPfp4+GManEfCsDi1JSYpauPmpFMCLM0B8urUUlfDS5W4rtH23D3wcUh1LVI8kMY\n"
            "nyc4mpKoe5eoqG8eCWkd0lz1ms4=\n"
            "-----END CERTIFICATE-----\n"
        ),
        "auth_ca_2023": (
            "-----BEGIN CERTIFICATE-----\n"
            "MIIFIzCCBAugAwIBAgIEBtGABjANBgkqhkiG9w0BAQsFADCBgjELMAkGA1UEBhMC\n"
            "SlAxDTALBgNVBAoMBEpQS0kxJTAjBgNVBAsMHEpQS0kgZm9yIHVzZXIgYXV0aGVu\n"
            "dGljYXRpb24xPTA7BgNVBAsMNEphcGFuIEFnZW5jeSBmb3IgTG9jYWwgQXV0aG9y\n"
            "aXR5IEluZm9ybWF0aW9uIFN5c3RlbXMwHhcNMjMwNzE2MDEwMTA0WhcNMzMwNzE1\n"
            "MTQ1OTU5WjCBgjELMAkGA1UEBhMCSlAxDTALBgNVBAoMBEpQS0kxJTAjBgNVBAsM\n"
            "HEpQS0kgZm9yIHVzZXIgYXV0aGVudGljYXRpb24xPTA7BgNVBAsMNEphcGFuIEFn\n"
            "ZW5jeSBmb3IgTG9jYWwgQXV0aG9yaXR5IEluZm9ybWF0aW9uIFN5c3RlbXMwggEi\n"
            "MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDdxNt+xeqB9O50CBx2IjT3ffw8\n"
            "G/wOfwQJ2RfPHTuwBoudurxDlvqX5MPWlZpFaKNpbY0oWjOsA4BuLW40bS6BW+zm\n"
            "dvYIZvtuxKuy5U613FGV0UbM7UT2s4Z/Wk4QJ+B6sFQnnoQlyzbDL3x70GQ+oQMo\n"
            "8To0sFbqoRWUQAu3QoDUNb/H0/k8PxZwhtUYY2q5kaNbtlI4q+0u+qnQXizXOPx1\n"
            "PJEvPsv0EQyE0+7aiSZ5kdiuDvZ9VdUXqiJHUnEljCYFRRiRJ4LlugEGwqMVWr0v\n"
            "U+2UTg+K4vT6ESYxjTAfjgNlR1kWPEs/1UEblqfrJQo/25rTxoQd4/WXyJofAgMB\n"
            "AAGjggGdMIIBmTAOBgNVHQ8BAf8EBAMCAQYwgbcGA1UdEQSBrzCBrKSBqTCBpjEL\n"
            "MAkGA1UEBhMCSlAxJzAlBgNVBAoMHuWFrOeahOWAi+S6uuiqjeiovOOCteODvOOD\n"
            "k+OCuTE5MDcGA1UECwww5YWs55qE5YCL5Lq66KqN6Ki844K144O844OT44K55Yip\n"
            "55So6ICF6Ki85piO55SoMTMwMQYDVQQLDCrlnLDmlrnlhazlhbHlm6PkvZPmg4Xl\n"
            "oLHjgrfjgrnjg4bjg6DmqZ/mp4swDwYDVR0TAQH/BAUwAwEB/zCBnAYDVR0fBIGU\n"
            "MIGRMIGOoIGLoIGIpIGFMIGCMQswCQYDVQQGEwJKUDENMAsGA1UECgwESlBLSTEl\n"
            "MCMGA1UECwwcSlBLSSBmb3IgdXNlciBhdXRoZW50aWNhdGlvbjE9MDsGA1UECww0\n"
            "SmFwYW4gQWdlbmN5IGZvciBMb2NhbCBBdXRob3JpdHkgSW5mb3JtYXRpb24gU3lz\n"
            "dGVtczAdBgNVHQ4EFgQUGsEA9ZajvIxLPfGV4yaZJJ6eMIowDQYJKoZIhvcNAQEL\n"
            "BQADggEBAHB2MubK1YUwFd6zUQrinYXdkbXKGcm7X7Wfe8bRkxr6PGDeQgWjggCJ\n"
            "44HrU8UZPAec7oCzqey0wQTqziBVjyd98ntWlVV5SrgXeaWbfgI51MgWs5j3a8hr\n"
            "CPAwwcRi9XgTFgGvmwjAORrMaNueGkqAK/1YFs9TGuiJxIc8Tm0w/bVGNoS4eJ0u\n"
            "yamqsLQroA9/pHCkp0AehFv4eonhiP8T3OsaiMG38JCb5a9K7FDfrwd3T4+zjDIb\n"
            "ecJL+viI0psHWwVmoyBBLXNBMjA5kKIqDYaYo6jsd7yoViTGcDpoYeRynal5yjkG\n"
            "yXigSal+staD3P6Yf7dJb0HX0gA0KRA=\n"
            "-----END CERTIFICATE-----\n"
        ),
    },
}
