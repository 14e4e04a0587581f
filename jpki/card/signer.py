"""The card's key as an ``hsm`` Signer, for code that signs whole messages (CMS, a login challenge).

``CardSigner(session, slot)`` signs through a :class:`jpki.card.CardSession` whose PIN for the slot was
verified: each ``sign(data)`` hashes ``data`` off the card and sends the DigestInfo to the card, as a
card-reading client does (``80 2A 00 80``). Only PKCS#1 v1.5 exists on the card; other algorithms are
refused (MechanismUnsupported).
"""

from __future__ import annotations

import hashlib

from hsm import HashName, MechanismUnsupported, PublicKey, Signer
from hsm.algorithms import Scheme, SignatureAlgorithm
from jpki.card.card import CardSession
from jpki.card.digest_info import digest_info
from jpki.card.slots import KeySlot


class CardSigner:
    """A Signer over one slot of an open card session (PIN verified in that session)."""

    def __init__(
        self, session: CardSession, slot: KeySlot, algorithm: SignatureAlgorithm | None = None
    ) -> None:
        self._session = session
        self._slot = slot
        self._algorithm = algorithm or SignatureAlgorithm(Scheme.RSA_PKCS1V15, HashName.SHA256)
        if self._algorithm.scheme is not Scheme.RSA_PKCS1V15:
            raise MechanismUnsupported(self._algorithm.name, "the card signs PKCS#1 v1.5 only")

    @property
    def public_key(self) -> PublicKey:
        return self._session.card.public_key(self._slot)

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def label(self) -> str:
        return f"{self._session.card.card_id}/{self._slot.value}"

    def sign(self, data: bytes) -> bytes:
        digest = hashlib.new(self._algorithm.hash.value, data).digest()
        return self._session.sign(self._slot, digest_info(self._algorithm.hash, digest))

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> Signer:
        return CardSigner(self._session, self._slot, algorithm)
