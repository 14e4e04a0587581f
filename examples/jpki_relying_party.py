"""A relying party's day with JPKI: verify a card signature, log a holder in, and (as a registered verifier)
follow a holder across a move with linkage and the consent-based 4 information.

Everything lands in a throw-away home (SQLite + software keys, as ``jlis init`` makes them); revocation data
comes from the CAs' CRLs handed over directly, so no server is needed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from jpki import CardSigner, EventKind, FourInfo, Jpki, KeySlot, Resident, ResidentEvent, Sex
from jpki.services import (
    ConsentService,
    LinkageService,
    LoginChallenges,
    LoginVerifier,
    VerifierGate,
    consent_document,
    sign_challenge,
)
from jpki.verifiers import VerifierServices
from jpki.verify import jpki_validator, verify_signature
from pki import Pki
from pki.cms import sign_cms
from pki.verify import PathValidator, RevocationSettings

home = Path(tempfile.mkdtemp(prefix="jlis-home-")) / "home"
Pki.initialise(home, base_url="http://127.0.0.1:8080").close()
offline = RevocationSettings(ocsp=False, fetch_crls=False)  # we hand the CRLs over below

with Jpki.open(home) as jpki:
    info = FourInfo(
        name="佐藤　一郎", birth=dt.date(1979, 8, 20), sex=Sex.male, address="東京都港区芝公園四丁目2番8号"
    )
    jpki.add_resident(Resident("23456789012", info, "131032"), actor="municipality:131032")
    card = jpki.issue_card("23456789012", signing_pin="ICHIRO79", auth_pin="2468", actor="counter:minato")
    assert card.signing is not None

    def crls(ca_id: str) -> list[bytes]:
        return [
            r.der
            for delta in (False, True)
            for r in jpki.pki.publish_crls(ca_id, actor="example", delta=delta)
        ]

    # 1. A signed application: the card signs, the relying party verifies signature, path and status.
    document = "住宅ローン申込書\n".encode()
    with jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(KeySlot.SIGNING, "ICHIRO79")
        signature = sign_cms(document, CardSigner(session, KeySlot.SIGNING), card.signing)
    checked = verify_signature(
        signature,
        jpki_validator([jpki.sign_ca.certificate], revocation=offline),
        content=document,
        crls=crls("jpki-sign"),
    )
    print(
        "signature:", checked.verdict.value, "signed by", checked.four_info.name if checked.four_info else "?"
    )

    # 2. A login with the authentication certificate: a single-use challenge, signed after the auth PIN.
    challenges = LoginChallenges(jpki.pki.store, jpki.clock)
    validator = PathValidator([jpki.auth_ca.certificate], revocation=offline)
    challenge = challenges.issue("example-portal")
    with jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(KeySlot.AUTH, "2468")
        answer = sign_challenge(session, challenge.nonce)
    verifier = LoginVerifier(challenges, validator, jpki.pki.store)
    result = verifier.verify(challenge.nonce, answer, card.auth, crls=crls("jpki-auth"))
    print("login: ok for certificate", f"{result.serial:x}")

    # 3. As a registered platform business: the holder consents, then moves; linkage and 4 information follow.
    verifiers = VerifierServices.for_pki(jpki.pki)
    platform = verifiers.registry.add("Example Bank", "pf", actor="operator:example")
    gate = VerifierGate(verifiers)
    expires = jpki.clock.now() + dt.timedelta(days=30)
    consent_doc = consent_document(platform.verifier.verifier_id, "住宅ローン審査", expires)
    with jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(KeySlot.SIGNING, "ICHIRO79")
        consent = sign_cms(consent_doc, CardSigner(session, KeySlot.SIGNING), card.signing, detached=False)
    move = ResidentEvent(
        "move-0002", "23456789012", EventKind.move, jpki.today(), address="神奈川県横浜市中区1番"
    )
    jpki.record_event(move, actor="registry")  # the signing certificate is revoked (affiliationChanged)
    new = jpki.reissue_signing(card.card_id, actor="counter:yokohama")
    old_der = card.signing.public_bytes(serialization.Encoding.DER)
    linkage = LinkageService(jpki, gate).linkage(platform.token, old_der)
    print(
        "linkage:",
        f"{linkage.presented.serial:x}",
        "->",
        f"{linkage.latest.serial:x}",
        linkage.latest.serial == new.serial_number,
    )
    latest = ConsentService(jpki, gate).provide(platform.token, consent)
    print("current address (with consent):", latest.four_info["address"])
    verifiers.flusher.flush(everything=True)
    month = jpki.clock.now().astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m")
    print("fees this month: ¥", verifiers.ledger.statement(platform.verifier.verifier_id, month).total)
