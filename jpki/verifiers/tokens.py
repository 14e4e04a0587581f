"""API tokens: ``jv_<lookup id>_<secret>``, of which only the SHA-256 is kept.

The lookup id (16 hex digits) finds the token's row by primary key; the secret is 32 bytes from
:mod:`secrets` (base64url, 43 characters). A presented token is hashed and compared with the stored hash
in constant time (:func:`hmac.compare_digest`), so neither a lookup nor a comparison tells an attacker how
much of a guess was right. Every character is a ``token68`` one (RFC 6750 §2.1), so ``Authorization:
Bearer`` carries it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

PREFIX: Final = "jv_"
SECRET_BYTES: Final = 32
_TOKEN: Final = re.compile(r"jv_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


def mint() -> tuple[str, str]:
    """A new token: ``(lookup id, token)``."""
    token_id = secrets.token_hex(8)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def lookup_id(token: str) -> str | None:
    """The lookup id of a well-formed token, or None (the token cannot be one we gave)."""
    match = _TOKEN.fullmatch(token)
    return match[1] if match else None


def digest(token: str) -> bytes:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def matches(stored: bytes, token: str) -> bool:
    """Whether ``token`` hashes to ``stored``, compared in constant time."""
    return hmac.compare_digest(stored, digest(token))
