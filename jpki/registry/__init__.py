"""The resident registry (``jpki.registry``): residents keyed by the 11-digit resident code with their basic 4
information, municipality and status, and the events that change them (move, rename, corrections, death,
emigration, return). The JPKI lifecycle (``jpki.lifecycle``) turns each event into revocations.

::

    from jpki.registry import Resident, ResidentEvent, EventKind, ResidentRegistry
"""

from jpki.registry.errors import (
    EventConflict,
    EventRefused,
    InvalidResident,
    RegistryError,
    ResidentExists,
    UnknownResident,
)
from jpki.registry.model import (
    FOUR_INFO_CHANGES,
    EventKind,
    Resident,
    ResidentEvent,
    ResidentStatus,
    check_resident_code,
    replace_info,
)
from jpki.registry.places import MUNICIPALITIES, PREFECTURES, check_municipality, locality
from jpki.registry.registry import EventRecord, EventState, ResidentRegistry

__all__ = [
    "FOUR_INFO_CHANGES",
    "MUNICIPALITIES",
    "PREFECTURES",
    "EventConflict",
    "EventKind",
    "EventRecord",
    "EventRefused",
    "EventState",
    "InvalidResident",
    "RegistryError",
    "Resident",
    "ResidentEvent",
    "ResidentExists",
    "ResidentRegistry",
    "ResidentStatus",
    "UnknownResident",
    "check_municipality",
    "check_resident_code",
    "locality",
    "replace_info",
]
