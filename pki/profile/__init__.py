"""Certificate profiles as validated data.

A profile is a TOML file (``docs/profiles.md``) validated into a frozen :class:`Profile`; a typo or a bad
value is a :class:`~pki.errors.ProfileError` naming the file, the key and the fix. The CA engine asks a
profile for the subject, the extensions and the validity of each certificate::

    profile = load_profile("pki/profiles/sub-ca.toml")
    profile.check_key(public_key)
    subject = profile.subject(csr.subject)
    ctx = IssueContext(public_key, issuer_key, issuer_name, clock.now(), ca_id=CaId("root"), base_url=url)
    extensions = profile.extensions(ctx)
    not_before, not_after = profile.validity(ctx)
"""

from pki.profile.context import IssueContext
from pki.profile.general_names import other_name
from pki.profile.kinds import Kind
from pki.profile.names import RequestedSubject, StringType
from pki.profile.profile import SHIPPED_PROFILES, Profile, load_profile, load_profiles, shipped_profiles
from pki.profile.schema import Table
from pki.profile.validity import (
    ParamsCheck,
    ValidityRequest,
    ValidityRuleFn,
    add_calendar,
    register_validity_rule,
    validity_rules,
)

__all__ = [
    "SHIPPED_PROFILES",
    "IssueContext",
    "Kind",
    "ParamsCheck",
    "Profile",
    "RequestedSubject",
    "StringType",
    "Table",
    "ValidityRequest",
    "ValidityRuleFn",
    "add_calendar",
    "load_profile",
    "load_profiles",
    "other_name",
    "register_validity_rule",
    "shipped_profiles",
    "validity_rules",
]
