"""DigestInfo (RFC 8017 §9.2): what a client hashes and sends to the card's SIGN command."""

from __future__ import annotations

from hsm import HashName

# RFC 8017 §9.2 note 1: DER of DigestInfo up to the digest, for each hash (parameters NULL).
_PREFIXES: dict[HashName, bytes] = {
    HashName.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    HashName.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    HashName.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}


def digest_info(hash_name: HashName, digest: bytes) -> bytes:
    """The DER DigestInfo of a digest, ready for ``80 2A 00 80``."""
    if len(digest) != hash_name.digest_size:
        raise ValueError(f"a {hash_name.value} digest is {hash_name.digest_size} bytes, not {len(digest)}")
    return _PREFIXES[hash_name] + digest
