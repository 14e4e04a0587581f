"""JPKI as a library: a resident gets a My Number Card, signs a document with it, moves house.

The move revokes the signing certificate (affiliationChanged) and leaves the authentication certificate;
a new signing certificate carrying the new address is issued to the card and linked to the old one.
Everything lands in a throw-away home (SQLite + software keys, as ``jlis init`` makes them).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from jpki import CardSigner, EventKind, FourInfo, Jpki, KeySlot, Resident, ResidentEvent, Sex, decode
from pki import Pki
from pki.cms import sign_cms

home = Path(tempfile.mkdtemp(prefix="jlis-home-")) / "home"
Pki.initialise(home, base_url="http://127.0.0.1:8080").close()  # the default definition has both JPKI CAs

with Jpki.open(home) as jpki:
    info = FourInfo(
        name="山田　花子",
        birth=dt.date(1985, 4, 1),
        sex=Sex.female,
        address="東京都千代田区霞が関二丁目1番2号",
    )
    jpki.add_resident(Resident("12345678901", info, "131016"), actor="municipality:131016")
    card = jpki.issue_card("12345678901", signing_pin="HANAKO85", auth_pin="4321", actor="counter:chiyoda")
    assert card.signing is not None
    print("card", card.card_id, "valid through", card.expires_on)
    print("signing certificate", f"{card.signing.serial_number:x}", card.signing.subject.rfc4514_string())
    print("4 information:", decode(card.signing).as_dict()["address"])

    # The holder signs with the card: signing PIN first, then the card signs the CMS signed attributes.
    with jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(KeySlot.SIGNING, "HANAKO85")
        p7s = sign_cms("申請書".encode(), CardSigner(session, KeySlot.SIGNING), card.signing)
    print("CMS signature", len(p7s), "bytes")

    # The registry reports a move: the signing certificate is revoked at once, the auth certificate stays.
    move = ResidentEvent(
        "move-0001", "12345678901", EventKind.move, jpki.today(), address="大阪府大阪市北区梅田一丁目1番"
    )
    outcome = jpki.record_event(move, actor="registry")
    print("revoked:", [(r.kind.value, r.reason.value) for r in outcome.revoked])
    assert jpki.record_event(move, actor="registry").new is False  # a replay changes nothing

    # Re-issue at the counter: a new key on the card, a certificate with the new address, linked old -> new.
    new = jpki.reissue_signing(card.card_id, actor="counter:osaka-kita")
    print("new signing certificate", f"{new.serial_number:x}", decode(new).address)
    chain = jpki.chain("jpki-sign", card.signing.serial_number)
    print("linkage:", " -> ".join(f"{h.serial:x} ({h.state.value})" for h in chain))
