"""Reading the basic 4 information back from a certificate or its GeneralNames, in any order."""

from __future__ import annotations

from collections.abc import Iterable

from asn1crypto import core
from cryptography import x509

from jpki.errors import FourInfoError, NoFourInfo
from jpki.fourinfo.era import parse_birth
from jpki.fourinfo.items import FIELD_OF, ITEM_OIDS, item_error
from jpki.fourinfo.value import FourInfo, Sex
from pki.profile.general_names import utf8_value


def decode(certificate: x509.Certificate) -> FourInfo:
    """The basic 4 information of a JPKI signing certificate, ours or real."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise NoFourInfo("no subjectAltName") from None
    except x509.DuplicateExtension as exc:
        raise FourInfoError(
            "subjectAltName", f"the certificate has extension {exc.oid.dotted_string} twice"
        ) from None
    except ValueError as exc:  # pyca parses extensions on first use: a malformed one fails here
        raise FourInfoError("subjectAltName", f"the extensions do not parse ({exc})") from None
    return decode_general_names(san)


def decode_general_names(names: Iterable[x509.GeneralName]) -> FourInfo:
    """The basic 4 information among GeneralNames, in any order; names outside the six items are ignored.

    Each item must appear exactly once, its value a DER UTF8String. pyca's ``OtherName.value`` is what the
    ``[0] EXPLICIT`` wrapper holds: pyca has already refused a certificate whose wrapper is not exactly one
    definite-length ``[0]`` around one element, so the check here is the inner element.
    """
    found: dict[str, list[x509.OtherName]] = {}
    for name in names:
        if isinstance(name, x509.OtherName) and name.type_id in FIELD_OF:
            found.setdefault(FIELD_OF[name.type_id], []).append(name)
    if not found:
        raise NoFourInfo()
    text = {field: _item_text(field, found.get(field, [])) for field in ITEM_OIDS}
    era, birth = parse_birth(text["birth"])
    return FourInfo(
        name=text["name"],
        birth=birth,
        era=era,
        sex=Sex.from_code(text["sex"]),
        address=text["address"],
        name_substitutes=text["name_substitutes"],
        address_substitutes=text["address_substitutes"],
    )


def _item_text(field: str, names: list[x509.OtherName]) -> str:
    """The text of the one otherName carrying ``field``: exactly a DER UTF8String (tag 0x0C, primitive,
    shortest definite length, valid UTF-8, nothing after it)."""
    if len(names) != 1:
        raise item_error(field, "missing" if not names else f"appears {len(names)} times")
    value = names[0].value
    if value[:1] != b"\x0c":
        tag = f"tag 0x{value[0]:02X}" if value else "an empty value"
        raise item_error(field, f"the value must be [0] EXPLICIT UTF8String (tag 0x0C), not {tag}")
    try:
        text = str(core.UTF8String.load(value, strict=True).native)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise item_error(field, f"the value is not a DER UTF8String ({exc})") from None
    if utf8_value(text) != value:  # asn1crypto reads BER: only DER re-encodes to the same bytes
        raise item_error(field, "the value is not a DER UTF8String (length not in its shortest form)")
    return text
