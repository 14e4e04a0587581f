"""The My Number Card's JPKI application (JPKI-AP): a key token with PIN policy, and an APDU interface to it.

::

    from jpki.card import MyNumberCard, KeySlot, JpkiApplet
    card = MyNumberCard.create(cards_dir, "card-0001", holder_birth=..., issued_on=...,
                               signing_pin="ABC123", auth_pin="1234", clock=clock)
    card.write_certificate(KeySlot.AUTH, certificate_der)
    signature = card.sign(KeySlot.AUTH, digest_info, "1234")
    applet = JpkiApplet(card)              # card-reading client code talks APDUs to this
    applet.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))

A card whose keys live in a SoftHSM token of its own (``jpki.card.softhsm_token``)::

    card = MyNumberCard.create(cards_dir, "card-0002", ..., token_kind="softhsm",
                               token_settings=SoftHsmSettings(module=None, conf=None))
"""

from jpki.card.apdu import JPKI_AID, TOKEN_LABEL_CARD, Command, JpkiApplet, Sw
from jpki.card.card import CardSession, MyNumberCard
from jpki.card.digest_info import digest_info
from jpki.card.errors import (
    CardCorrupt,
    CardError,
    CardExists,
    CardNotActive,
    CardNotExpired,
    CardNotFound,
    CertificateMissing,
    CertificateRejected,
    InvalidCardDates,
    InvalidCardId,
    InvalidStatusTransition,
    PinError,
    PinFormatInvalid,
    PinIncorrect,
    PinLocked,
    PinNotVerified,
    SignInputInvalid,
    UnknownTokenKind,
)
from jpki.card.pin import AUTH_PIN_POLICY, PIN_POLICIES, SIGNING_PIN_POLICY, PinPolicy, PinState
from jpki.card.signer import CardSigner
from jpki.card.slots import SLOT_FILES, KeySlot, SlotFiles
from jpki.card.softhsm_token import (
    CardTokenNotFound,
    SoftHsmCardToken,
    SoftHsmSettings,
    SoftHsmSetupError,
    SoftHsmTokenRecord,
)
from jpki.card.status import CardStatus, StatusChange
from jpki.card.token import (
    TOKEN_KINDS,
    BackendCardToken,
    CardToken,
    FileCardToken,
    TokenSettings,
    TokenSettingsInvalid,
)
from jpki.card.validity import JST, age_on, card_expiry

__all__ = [
    "AUTH_PIN_POLICY",
    "JPKI_AID",
    "JST",
    "PIN_POLICIES",
    "SIGNING_PIN_POLICY",
    "SLOT_FILES",
    "TOKEN_KINDS",
    "TOKEN_LABEL_CARD",
    "BackendCardToken",
    "CardCorrupt",
    "CardError",
    "CardExists",
    "CardNotActive",
    "CardNotExpired",
    "CardNotFound",
    "CardSession",
    "CardSigner",
    "CardStatus",
    "CardToken",
    "CardTokenNotFound",
    "CertificateMissing",
    "CertificateRejected",
    "Command",
    "FileCardToken",
    "InvalidCardDates",
    "InvalidCardId",
    "InvalidStatusTransition",
    "JpkiApplet",
    "KeySlot",
    "MyNumberCard",
    "PinError",
    "PinFormatInvalid",
    "PinIncorrect",
    "PinLocked",
    "PinNotVerified",
    "PinPolicy",
    "PinState",
    "SignInputInvalid",
    "SlotFiles",
    "SoftHsmCardToken",
    "SoftHsmSettings",
    "SoftHsmSetupError",
    "SoftHsmTokenRecord",
    "StatusChange",
    "Sw",
    "TokenSettings",
    "TokenSettingsInvalid",
    "UnknownTokenKind",
    "age_on",
    "card_expiry",
    "digest_info",
]
