"""The basic 4 information (基本4情報) of a JPKI signing certificate as a typed value, its encoder to
subjectAltName otherNames, and a decoder for any JPKI signing certificate (jpki-facts.md §2).

Each item is an otherName ``[0] IMPLICIT SEQUENCE { type-id, value [0] EXPLICIT UTF8String }`` under the
personalData arc 1.2.392.200149.8.5.5; real certificates carry them in the order .1, .4, .3, .5, .2, .6.
"""

from jpki.errors import FourInfoError, NoFourInfo
from jpki.fourinfo.codec import decode, decode_general_names
from jpki.fourinfo.era import Era, format_birth, parse_birth
from jpki.fourinfo.items import ITEM_OIDS, PERSONAL_DATA
from jpki.fourinfo.value import ADDRESS_MAX, FourInfo, Sex

__all__ = [
    "ADDRESS_MAX",
    "ITEM_OIDS",
    "PERSONAL_DATA",
    "Era",
    "FourInfo",
    "FourInfoError",
    "NoFourInfo",
    "Sex",
    "decode",
    "decode_general_names",
    "format_birth",
    "parse_birth",
]
