"""The six otherName items of the personalData arc, in the order real certificates carry them."""

from __future__ import annotations

from types import MappingProxyType

from cryptography import x509

from jpki.errors import FourInfoError

PERSONAL_DATA = "1.2.392.200149.8.5.5"
"""The personalData arc of the JPKI signing certificate's otherNames (jpki-facts.md §2)."""
ITEM_OIDS = MappingProxyType(
    {
        field: x509.ObjectIdentifier(f"{PERSONAL_DATA}.{suffix}")
        for field, suffix in [
            ("name", 1),
            ("birth", 4),
            ("sex", 3),
            ("address", 5),
            ("name_substitutes", 2),
            ("address_substitutes", 6),
        ]
    }
)
"""The type-id of each item by FourInfo field, in the order of real certificates: .1, .4, .3, .5, .2, .6."""
FIELD_OF = MappingProxyType({oid: field for field, oid in ITEM_OIDS.items()})


def item_error(field: str, reason: str) -> FourInfoError:
    """A FourInfoError naming the field and the item that carries it (the era is part of the birth item)."""
    item = ITEM_OIDS.get("birth" if field == "era" else field)
    return FourInfoError(field, reason, item.dotted_string if item is not None else None)
