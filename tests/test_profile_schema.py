"""Profiles as validated data: shipped profiles load; every bad input is a ProfileError that names the file,
the dotted key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsm import KeyKind
from pki.errors import ProfileError
from pki.profile import SHIPPED_PROFILES, Kind, load_profile, load_profiles, shipped_profiles

SHIPPED = (
    "cross-ca",
    "jpki-auth",
    "jpki-auth-ca",
    "jpki-sign",
    "jpki-sign-ca",
    "ocsp-responder",
    "root-ca",
    "sub-ca",
    "tls-server",
)

TOP = 'kind = "ee"\nkeys = ["p256"]\n'
SUBJECT = '[[subject]]\nattr = "CN"\n'
VALIDITY = '[validity]\nrule = "fixed"\ndays = 30\n'
EXTENSIONS = '[extensions]\nkey_usage = { usages = ["digitalSignature"] }\nauthority_key_identifier = true\n'
CA_EXTENSIONS = (
    "[extensions]\nbasic_constraints = { ca = true }\n"
    'key_usage = { usages = ["keyCertSign", "cRLSign"] }\nsubject_key_identifier = true\n'
)


def profile_text(
    top: str = TOP, subject: str = SUBJECT, validity: str = VALIDITY, extensions: str = EXTENSIONS
) -> str:
    """A minimal valid EE profile with one section replaced."""
    return "\n".join((top, subject, validity, extensions))


def ext(line: str) -> str:
    """The minimal extensions plus one more line under [extensions]."""
    return EXTENSIONS + line + "\n"


def test_every_shipped_profile_loads() -> None:
    profiles = shipped_profiles()
    assert sorted(profiles) == list(SHIPPED)
    assert profiles["root-ca"].kind is Kind.ca
    assert profiles["cross-ca"].kind is Kind.cross
    assert profiles["ocsp-responder"].kind is Kind.ocsp_responder
    assert profiles["jpki-sign"].keys == (KeyKind.RSA2048,)
    assert all(p.file.startswith(str(SHIPPED_PROFILES)) for p in profiles.values())


def test_extension_order_follows_the_file() -> None:
    sign = shipped_profiles()["jpki-sign"]
    assert list(sign.extension_specs)[:3] == ["key_usage", "certificate_policies", "subject_alt_name"]


def test_load_profiles_ids_are_file_stems(tmp_path: Path) -> None:
    (tmp_path / "my-ee.toml").write_text(profile_text(), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a profile", encoding="utf-8")
    profiles = load_profiles(tmp_path)
    assert list(profiles) == ["my-ee"]
    assert profiles["my-ee"].id == "my-ee"


def test_profiles_are_frozen() -> None:
    profile = shipped_profiles()["tls-server"]
    with pytest.raises(AttributeError):
        profile.kind = Kind.ca  # type: ignore[misc]


# (case id, profile text, dotted key, text expected in the message)
BAD: list[tuple[str, str, str, str]] = [
    ("toml-syntax", "kind = \n", "(syntax)", "fix the TOML syntax"),
    (
        "unknown-top-key",
        profile_text(top=TOP + 'descripton = "x"\n'),
        "descripton",
        "did you mean 'description'?",
    ),
    ("typo-keys", profile_text(top='kind = "ee"\nkyes = ["p256"]\n'), "kyes", "did you mean 'keys'?"),
    ("unknown-kind", profile_text(top='kind = "leaf"\nkeys = ["p256"]\n'), "kind", "use one of"),
    ("unknown-key-type", profile_text(top='kind = "ee"\nkeys = ["p521"]\n'), "keys[0]", "unknown key type"),
    (
        "wrong-type-keys",
        profile_text(top='kind = "ee"\nkeys = "p256"\n'),
        "keys",
        "must be an array, not string",
    ),
    ("missing-kind", profile_text(top='keys = ["p256"]\n'), "kind", "add kind ="),
    (
        "extension-typo",
        profile_text(extensions=EXTENSIONS.replace("key_usage", "key_usgae")),
        "extensions.key_usgae",
        "did you mean 'key_usage'?",
    ),
    (
        "nested-typo",
        profile_text(extensions=EXTENSIONS.replace("usages", "usage")),
        "extensions.key_usage.usage",
        "did you mean 'usages'?",
    ),
    (
        "bad-key-usage-name",
        profile_text(
            extensions=EXTENSIONS.replace('"digitalSignature"', '"digitalSignature", "keyCertsign"')
        ),
        "extensions.key_usage.usages[1]",
        "did you mean 'keyCertSign'?",
    ),
    (
        "bad-eku-name",
        profile_text(extensions=ext('extended_key_usage = { usages = ["serverauth"] }')),
        "extensions.extended_key_usage.usages[0]",
        "did you mean 'serverAuth'?",
    ),
    (
        "wrong-type-bool",
        profile_text(extensions=ext('basic_constraints = { ca = "no" }')),
        "extensions.basic_constraints.ca",
        "must be true or false, not string",
    ),
    (
        "wrong-type-int",
        profile_text(extensions=CA_EXTENSIONS.replace("ca = true", "ca = true, path_len = true")),
        "extensions.basic_constraints.path_len",
        "must be an integer, not boolean",
    ),
    (
        "bad-oid",
        profile_text(extensions=ext('certificate_policies = { policies = [{ oid = "1.2.x.4" }] }')),
        "extensions.certificate_policies.policies[0].oid",
        "is not an object identifier",
    ),
    (
        "bad-oid-arc",
        profile_text(extensions=ext('certificate_policies = { policies = [{ oid = "1.40.3" }] }')),
        "extensions.certificate_policies.policies[0].oid",
        "is not an object identifier",
    ),
    (
        "duplicate-policy",
        profile_text(
            extensions=ext('certificate_policies = { policies = [{ oid = "1.2.3" }, { oid = "1.2.3" }] }')
        ),
        "extensions.certificate_policies.policies",
        "more than once",
    ),
    (
        "user-notice-too-long",
        profile_text(
            extensions=ext(
                f'certificate_policies = {{ policies = [{{ oid = "1.2.3", user_notice = "{"x" * 201}" }}] }}'
            )
        ),
        "extensions.certificate_policies.policies[0].user_notice",
        "1-200 characters",
    ),
    (
        "printable-violation",
        profile_text(subject='[[subject]]\nattr = "O"\ntype = "printable"\nvalue = "Foo & Bar"\n' + SUBJECT),
        "subject[0].value",
        "'&' is not a PrintableString character",
    ),
    (
        "country-as-utf8",
        profile_text(subject='[[subject]]\nattr = "C"\ntype = "utf8"\n' + SUBJECT),
        "subject[0].type",
        "use printable",
    ),
    (
        "country-length",
        profile_text(subject='[[subject]]\nattr = "C"\nvalue = "JPN"\n' + SUBJECT),
        "subject[0].value",
        "exactly 2 characters",
    ),
    (
        "subject-attr-missing",
        profile_text(subject='[[subject]]\ntype = "utf8"\n'),
        "subject[0].attr",
        "is missing",
    ),
    ("subject-attr-unknown", profile_text(subject='[[subject]]\nattr = "CNN"\n'), "subject[0].attr", "'CN'"),
    (
        "multi-with-fixed-value",
        profile_text(subject='[[subject]]\nattr = "OU"\nmulti = true\nvalue = "x"\n' + SUBJECT),
        "subject[0].value",
        "one [[subject]] per fixed value",
    ),
    (
        "ambiguous-runs",
        profile_text(subject='[[subject]]\nattr = "OU"\nmulti = true\n[[subject]]\nattr = "OU"\n' + SUBJECT),
        "subject[1]",
        "multi-valued",
    ),
    (
        "unknown-rule",
        profile_text(validity='[validity]\nrule = "fixd"\n'),
        "validity.rule",
        "did you mean 'fixed'?",
    ),
    (
        "rule-param-typo",
        profile_text(validity='[validity]\nrule = "fixed"\nyeras = 2\n'),
        "validity.yeras",
        "did you mean 'years'?",
    ),
    ("no-period", profile_text(validity='[validity]\nrule = "fixed"\n'), "validity.days", "needs a period"),
    (
        "negative-period",
        profile_text(validity='[validity]\nrule = "fixed"\ndays = -3\n'),
        "validity.days",
        "below the minimum 0",
    ),
    (
        "unknown-time-zone",
        profile_text(validity=VALIDITY + 'align = { tz = "Asia/Tokio" }\n'),
        "validity.align.tz",
        "did you mean 'Asia/Tokyo'?",
    ),
    (
        "bad-time-of-day",
        profile_text(validity=VALIDITY + 'align = { tz = "Asia/Tokyo", end = "24:00" }\n'),
        "validity.align.end",
        "HH:MM:SS",
    ),
    (
        "unknown-placeholder",
        profile_text(
            extensions=ext(
                'crl_distribution_points = { points = [{ uris = ["{base_url}/crl/{ca-id}.crl"] }] }'
            )
        ),
        "extensions.crl_distribution_points.points[0].uris[0]",
        "did you mean 'ca_id'?",
    ),
    (
        "relative-uri",
        profile_text(extensions=ext('authority_info_access = { ca_issuers = ["/ca/{ca_id}.cer"] }')),
        "extensions.authority_info_access.ca_issuers[0]",
        "needs a scheme",
    ),
    (
        "crldp-bad-dirname",
        profile_text(extensions=ext('crl_distribution_points = { points = [{ dirname = "subject" }] }')),
        "extensions.crl_distribution_points.points[0].dirname",
        'write "issuer"',
    ),
    (
        "san-fixed-and-requested",
        profile_text(
            extensions=ext(
                'subject_alt_name = { names = [{ type = "dns", value = "a.jp", from_request = true }] }'
            )
        ),
        "extensions.subject_alt_name.names[0].value",
        "either a fixed value or from_request",
    ),
    (
        "san-bad-dns",
        profile_text(extensions=ext('subject_alt_name = { names = [{ type = "dns", value = "a b.jp" }] }')),
        "extensions.subject_alt_name.names[0].value",
        "is not a DNS name",
    ),
    (
        "type-id-on-dns",
        profile_text(
            extensions=ext(
                'subject_alt_name = { names = [{ type = "dns", type_id = "1.2.3", from_request = true }] }'
            )
        ),
        "extensions.subject_alt_name.names[0].type_id",
        'only applies with type = "other_name"',
    ),
    (
        "issuer-alt-name-from-request",
        profile_text(
            extensions=ext('issuer_alt_name = { names = [{ type = "email", from_request = true }] }')
        ),
        "extensions.issuer_alt_name.names[0].from_request",
        "belongs to the issuer",
    ),
    (
        "ee-with-ca-true",
        profile_text(extensions=ext("basic_constraints = { ca = true }")),
        "kind",
        "cannot make a CA certificate",
    ),
    (
        "path-len-without-ca",
        profile_text(extensions=ext("basic_constraints = { ca = false, path_len = 0 }")),
        "extensions.basic_constraints.path_len",
        "needs ca = true",
    ),
    (
        "ca-basic-constraints-not-critical",
        profile_text(
            top='kind = "ca"\nkeys = ["p256"]\n',
            extensions=CA_EXTENSIONS.replace("ca = true", "ca = true, critical = false"),
        ),
        "extensions.basic_constraints.critical",
        "set critical = true",
    ),
    (
        "ca-without-keycertsign",
        profile_text(
            top='kind = "ca"\nkeys = ["p256"]\n', extensions=CA_EXTENSIONS.replace('"keyCertSign", ', "")
        ),
        "extensions.key_usage",
        "keyCertSign",
    ),
    (
        "ca-without-ski",
        profile_text(
            top='kind = "ca"\nkeys = ["p256"]\n',
            extensions=CA_EXTENSIONS.replace("subject_key_identifier = true", ""),
        ),
        "extensions.subject_key_identifier",
        "§4.2.1.2",
    ),
    (
        "ee-without-aki",
        profile_text(extensions='[extensions]\nkey_usage = { usages = ["digitalSignature"] }\n'),
        "extensions.authority_key_identifier",
        "§4.2.1.1",
    ),
    (
        "policy-mappings-in-ee",
        profile_text(
            extensions=ext('policy_mappings = { mappings = [{ issuer = "1.2.3", subject = "1.2.4" }] }')
        ),
        "extensions.policy_mappings",
        "only CA and cross-certificate profiles",
    ),
    (
        "map-any-policy",
        profile_text(
            top='kind = "cross"\nkeys = ["p256"]\n',
            extensions=CA_EXTENSIONS
            + "authority_key_identifier = true\n"
            + 'policy_mappings = { mappings = [{ issuer = "anyPolicy", subject = "1.2.4" }] }\n',
        ),
        "extensions.policy_mappings.mappings[0].issuer",
        "anyPolicy cannot be mapped",
    ),
    (
        "empty-policy-constraints",
        profile_text(
            top='kind = "ca"\nkeys = ["p256"]\n', extensions=CA_EXTENSIONS + "policy_constraints = {}\n"
        ),
        "extensions.policy_constraints.require_explicit_policy",
        "neither constraint",
    ),
    (
        "name-constraints-not-critical",
        profile_text(
            top='kind = "ca"\nkeys = ["p256"]\n',
            extensions=CA_EXTENSIONS
            + "name_constraints = { critical = false, "
            + 'permitted = [{ type = "dns", value = "example.jp" }] }\n',
        ),
        "extensions.name_constraints.critical",
        "set critical = true",
    ),
    (
        "name-constraint-leading-dot",
        profile_text(
            top='kind = "ca"\nkeys = ["p256"]\n',
            extensions=CA_EXTENSIONS
            + 'name_constraints = { permitted = [{ type = "dns", value = ".example.jp" }] }\n',
        ),
        "extensions.name_constraints.permitted[0].value",
        "no leading dot",
    ),
    (
        "nocheck-outside-ocsp",
        profile_text(extensions=ext("ocsp_no_check = true")),
        "extensions.ocsp_no_check",
        "only OCSP responder",
    ),
    (
        "ocsp-without-ocspsigning",
        profile_text(top='kind = "ocsp-responder"\nkeys = ["p256"]\n'),
        "extensions.extended_key_usage",
        "OCSPSigning",
    ),
    (
        "ec-key-with-keyencipherment",
        profile_text(
            extensions=EXTENSIONS.replace('"digitalSignature"', '"digitalSignature", "keyEncipherment"')
        ),
        "extensions.key_usage.usages",
        "cannot be used with EC keys",
    ),
    (
        "empty-subject-san-not-critical",
        profile_text(
            subject='[[subject]]\nattr = "CN"\nrequired = false\n',
            extensions=ext('subject_alt_name = { names = [{ type = "dns", from_request = true }] }'),
        ),
        "extensions.subject_alt_name.critical",
        "§4.2.1.6",
    ),
    (
        "empty-subject-nothing-names",
        profile_text(subject=""),
        "subject",
        "nothing names the subject",
    ),
    (
        "freshest-crl-critical",
        profile_text(
            extensions=ext('freshest_crl = { critical = true, points = [{ uris = ["{base_url}/d.crl"] }] }')
        ),
        "extensions.freshest_crl.critical",
        "§4.2.1.15",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "expected"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_bad_profiles_name_file_key_and_fix(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    error = caught.value
    assert (error.file, error.key) == (str(path), key), error.message
    assert expected in error.message
    assert str(error).startswith(f"{path}: {key}: ")


def test_a_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path / "absent.toml")
    assert caught.value.key == "(file)"


def test_the_minimal_profile_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(profile_text(), encoding="utf-8")
    assert load_profile(path).kind is Kind.ee


def test_the_documented_example_loads(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "profiles.md").read_text(encoding="utf-8")
    example = docs.split("## A complete example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "lgpki-official.toml"
    path.write_text(example, encoding="utf-8")
    profile = load_profile(path)
    assert profile.kind is Kind.ee
    assert next(iter(profile.extension_specs)) == "key_usage"
    assert len(profile.extension_specs) == 10
