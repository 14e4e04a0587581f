"""JPKI's services for registered verifiers and relying parties.

- :mod:`.login`: user authentication with the card's authentication certificate (single-use challenges).
- :mod:`.linkage`: from a certificate a verifier holds to the same person's other certificates.
- :mod:`.consent`: the holder's current basic 4 information, with the holder's signed consent.
- :mod:`.access`: the registered-verifier gate every service goes through.

The HTTP routes over them are in :mod:`jpki.http` (``/api/jpki/...``); ``jlis serve`` mounts them.
"""

from jpki.services.access import ServiceRefused, VerifierGate
from jpki.services.consent import ConsentService, Provision, consent_document, withdrawal_document
from jpki.services.linkage import Linkage, LinkageService, LinkedCert
from jpki.services.login import (
    Challenge,
    LoginChallenges,
    LoginRefused,
    LoginResult,
    LoginVerifier,
    sign_challenge,
)

__all__ = [
    "Challenge",
    "ConsentService",
    "Linkage",
    "LinkageService",
    "LinkedCert",
    "LoginChallenges",
    "LoginRefused",
    "LoginResult",
    "LoginVerifier",
    "Provision",
    "ServiceRefused",
    "VerifierGate",
    "consent_document",
    "sign_challenge",
    "withdrawal_document",
]
