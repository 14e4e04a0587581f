"""Signed audit checkpoints: the audit key signs (seq, record_hash, time) of the latest record.

A chain alone shows that records were changed, unless someone rewrote every hash after the change; a signed
checkpoint pins the chain's head at a moment, so a rewrite before it is caught even then.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from hsm import PublicKey, SignatureAlgorithm, Signer, verify_signature
from hsm.algorithms import HashName, Scheme
from pki.audit.chain import Checkpoint, format_time

_DOMAIN = b"jlis-audit-checkpoint-v1\x00"


def _message(seq: int, record_hash: bytes, at: dt.datetime) -> bytes:
    return _DOMAIN + seq.to_bytes(8, "big") + record_hash + format_time(at).encode()


def sign_checkpoint(signer: Signer, seq: int, record_hash: bytes, at: dt.datetime) -> Checkpoint:
    """Sign the chain head with the audit key."""
    algorithm = f"{signer.algorithm.scheme.value}/{signer.algorithm.hash.value}"
    key_id = x509.SubjectKeyIdentifier.from_public_key(signer.public_key).digest.hex()
    return Checkpoint(seq, record_hash, at, key_id, algorithm, signer.sign(_message(seq, record_hash, at)))


def checkpoint_valid(checkpoint: Checkpoint, public_key: PublicKey) -> bool:
    """True when the checkpoint was signed by the audit key over exactly these values."""
    try:
        scheme, hash_name = checkpoint.algorithm.split("/")
        algorithm = SignatureAlgorithm(Scheme(scheme), HashName(hash_name))
        message = _message(checkpoint.seq, checkpoint.record_hash, checkpoint.at)
        return verify_signature(public_key, algorithm, message, checkpoint.signature)
    except ValueError:
        return False
