"""A JPKI-only PKI home for lifecycle tests, and residents to fill it with."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from jpki.fourinfo import FourInfo, Sex
from jpki.lifecycle import Jpki
from jpki.registry import Resident
from pki.clock import FixedClock
from pki.runtime import Pki

JPKI_DEFINITION = """
[pki]
base_url = "http://127.0.0.1:8080"
audit_key = "p256"

[[ca]]
id = "jpki-sign"
profile = "jpki-sign-ca"
key = "rsa2048"
issues = ["jpki-sign", "ocsp-responder"]
subject = [
  { attr = "C", value = "JP", type = "printable" },
  { attr = "O", value = "JPKI", type = "utf8" },
  { attr = "OU", value = "JPKI for digital signature", type = "utf8" },
  { attr = "OU", value = "Japan Agency for Local Authority Information Systems", type = "utf8" },
]
crl = { next_update_hours = 24, delta_next_update_hours = 1, dirname_distribution_point = true }
ocsp = { access = "ACCESS", next_update_minutes = 15, refresh_before_minutes = 5 }

[[ca]]
id = "jpki-auth"
profile = "jpki-auth-ca"
key = "rsa2048"
issues = ["jpki-auth", "ocsp-responder"]
subject = [
  { attr = "C", value = "JP", type = "printable" },
  { attr = "O", value = "JPKI", type = "utf8" },
  { attr = "OU", value = "JPKI for user authentication", type = "utf8" },
  { attr = "OU", value = "Japan Agency for Local Authority Information Systems", type = "utf8" },
]
crl = { next_update_hours = 24, delta_next_update_hours = 1, shards = 16, dirname_distribution_point = true }
ocsp = { access = "ACCESS", next_update_minutes = 15, refresh_before_minutes = 5 }
"""

START = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)  # 10:00 JST
_codes = itertools.count(10000000001)


def write_definition(path: Path, *, access: str = "registered") -> Path:
    path.write_text(JPKI_DEFINITION.replace("ACCESS", access))
    return path


def make_home(root: Path, *, access: str = "registered", store_url: str | None = None) -> Path:
    """An initialised home with the two JPKI CAs (file keys, SQLite unless ``store_url``)."""
    root.mkdir(parents=True, exist_ok=True)
    definition = write_definition(root / "jpki.toml", access=access)
    Pki.initialise(root / "home", definition=definition, store_url=store_url, clock=FixedClock(START)).close()
    return root / "home"


def open_jpki(home: Path, clock: FixedClock) -> Jpki:
    return Jpki(Pki.open(home, clock=clock), home / "cards", clock=clock)


def resident(
    *,
    birth: dt.date = dt.date(1990, 1, 2),
    address: str = "東京都千代田区霞が関二丁目1番2号",
    name: str = "山田　太郎",
    municipality: str = "131016",
    guardianship: bool = False,
) -> Resident:
    info = FourInfo(name=name, birth=birth, sex=Sex.male, address=address)
    return Resident(str(next(_codes)), info, municipality, guardianship=guardianship)
