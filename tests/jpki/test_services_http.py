"""`/api/jpki/...` on a real `jlis serve`: linkage and the 4 information with consent for registered
verifiers, the refusals as HTTP answers (never a 5xx for anything a client sent), and the fee ledger."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from jpki.card import CardSigner, KeySlot
from jpki.lifecycle import IssuedCard, Jpki
from jpki.registry import EventKind, Resident, ResidentEvent
from jpki.services.consent import consent_document, withdrawal_document
from jpki.verifiers import VerifierRegistry
from pki.clock import SystemClock
from pki.cms import sign_cms
from tests.jpki.support import make_home, resident
from tests.ocsp.test_ocsp_server import serving
from tests.test_serve import RunningServer

pytestmark = pytest.mark.slow
ACTOR = "test:api"


@dataclass(frozen=True)
class Served:
    server: RunningServer
    jpki: Jpki
    registry: VerifierRegistry
    token: str
    verifier_id: str
    sp_token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("api-served")
    home = make_home(tmp)
    with serving(home, tmp / "logs") as server:
        jpki = Jpki.open(home, clock=SystemClock())
        try:
            registry = VerifierRegistry(jpki.pki.store, jpki.clock)
            pf = registry.add("API Platform", "pf", actor=ACTOR)
            sp = registry.add("API Shop", "sp", actor=ACTOR)
            yield Served(server, jpki, registry, pf.token, pf.verifier.verifier_id, sp.token)
        finally:
            jpki.close()


def post(served: Served, path: str, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{served.server.url}/api/jpki/{path}", content=body, headers=headers, timeout=30)


def card_for(served: Served) -> tuple[Resident, IssuedCard]:
    person = served.jpki.add_resident(resident(), actor=ACTOR)
    return person, served.jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)


def signed(served: Served, card: IssuedCard, content: bytes, slot: KeySlot = KeySlot.SIGNING) -> bytes:
    cert = card.signing if slot is KeySlot.SIGNING else card.auth
    assert cert is not None
    with served.jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(slot, "ABC123" if slot is KeySlot.SIGNING else "1234")
        return sign_cms(content, CardSigner(session, slot), cert, detached=False)


def test_linkage_over_http_after_a_move(served: Served) -> None:
    person, card = card_for(served)
    assert card.signing is not None
    old = card.signing.public_bytes(serialization.Encoding.DER)
    event = ResidentEvent(
        f"mv-{person.code}", person.code, EventKind.move, served.jpki.today(), address="京都府1番"
    )
    served.jpki.record_event(event, actor="registry")
    new = served.jpki.reissue_signing(card.card_id, actor=ACTOR)
    answer = post(served, "linkage", old, served.token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["presented"]["state"] == "revoked"
    assert body["latest"]["serial"] == f"{new.serial_number:x}"
    assert body["partner"]["serial"] == f"{card.auth.serial_number:x}"
    assert answer.headers["cache-control"] == "no-store"


def test_four_info_with_consent_over_http(served: Served) -> None:
    person, card = card_for(served)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    consent = signed(
        served, card, consent_document(served.verifier_id, "口座開設", expires, consent_id="http-1")
    )
    answer = post(served, "four-info", consent, served.token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["four_info"]["address"] == person.info.address
    withdrawal = signed(served, card, withdrawal_document("http-1"), KeySlot.AUTH)
    assert post(served, "consents/withdraw", withdrawal).json() == {"consent_id": "http-1", "withdrawn": True}
    again = post(served, "four-info", consent, served.token)
    assert (again.status_code, again.json()["error"]) == (403, "consent-withdrawn")
    assert person.info.address not in again.text


def test_refusals_are_clear_http_answers(served: Served) -> None:
    _, card = card_for(served)
    assert card.signing is not None
    der = card.signing.public_bytes(serialization.Encoding.DER)
    missing = post(served, "linkage", der)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert post(served, "linkage", der, served.sp_token).status_code == 403
    assert post(served, "linkage", b"\x30\x82garbage", served.token).status_code == 400
    assert post(served, "four-info", b"", served.token).status_code == 400
    too_big = post(served, "linkage", b"\x00" * (64 * 1024 + 1), served.token)
    assert too_big.status_code == 413


def test_random_bodies_never_get_a_5xx(served: Served) -> None:
    rng = random.Random(5)
    _, card = card_for(served)
    assert card.signing is not None
    base = card.signing.public_bytes(serialization.Encoding.DER)
    for i in range(60):
        body = bytearray(base if i % 2 else os.urandom(rng.randrange(1, 400)))
        for _ in range(rng.randrange(1, 6)):
            if body:
                body[rng.randrange(len(body))] = rng.randrange(256)
        for path in ("linkage", "four-info", "consents/withdraw"):
            answer = post(served, path, bytes(body), served.token)
            assert answer.status_code < 500, (path, answer.status_code, answer.text)


def jlis_verify(
    served: Served, signature: Path, content: Path, anchor: Path, token: str | None
) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "JLIS_VERIFIER_TOKEN"}
    if token is not None:
        env["JLIS_VERIFIER_TOKEN"] = token
    args = ["verify", str(signature), "--content", str(content), "--anchors", str(anchor), "--json"]
    ran = subprocess.run(
        [sys.executable, "-m", "jlis.cli", *args, "--ocsp", f"{served.server.url}/ocsp"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Traceback" not in ran.stderr and (token is None or token not in ran.stdout + ran.stderr)
    return ran.returncode, json.loads(ran.stdout) if ran.stdout.strip().startswith("{") else {}


def test_jlis_verify_asks_the_restricted_responder_with_the_verifier_token(
    served: Served, tmp_path: Path
) -> None:
    person, card = card_for(served)
    assert card.signing is not None
    content = tmp_path / "application.txt"
    content.write_text("口座開設申込書\n", encoding="utf-8")
    with served.jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(KeySlot.SIGNING, "ABC123")
        signature = tmp_path / "application.p7s"
        signature.write_bytes(
            sign_cms(content.read_bytes(), CardSigner(session, KeySlot.SIGNING), card.signing)
        )
    anchor = tmp_path / "sign-ca.pem"
    anchor.write_bytes(served.jpki.sign_ca.certificate.public_bytes(serialization.Encoding.PEM))
    code, _ = jlis_verify(served, signature, content, anchor, None)
    assert code == 2  # the responder answers registered verifiers only: indeterminate
    code, result = jlis_verify(served, signature, content, anchor, served.token)
    assert code == 0, result
    assert result["four_info"]["address"] == person.info.address
    event = ResidentEvent(
        f"mv2-{person.code}", person.code, EventKind.move, served.jpki.today(), address="福岡県1番"
    )
    served.jpki.record_event(event, actor="registry")
    deadline = time.monotonic() + 10
    while True:
        code, result = jlis_verify(served, signature, content, anchor, served.token)
        if code == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert code == 1, result
    assert "affiliationChanged" in json.dumps(result)
