"""`jlis jpki ...` driven as a user would (a child process), on a home with the two JPKI CAs: residents,
registry events, cards, PINs, export, CMS signing checked by openssl, notices, batch issuance and its
resumption. Every run also checks that no PIN shows up in what the CLI prints."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jpki.card import JST
from jpki.lifecycle import CertKind, Jpki
from jpki.registry import UnknownResident
from pki.model import CertStatus, RevocationReason
from tests.jpki.support import make_home

SIGN_PIN = "QZ7SIGN4"
AUTH_PIN = "8642"
PINS = {"JLIS_SIGN_PIN": SIGN_PIN, "JLIS_AUTH_PIN": AUTH_PIN}
AUTH_ONLY = {"JLIS_AUTH_PIN": AUTH_PIN}
ADDRESS = "東京都千代田区霞が関二丁目1番2号"
_codes = itertools.count(31000000001)


def _no_pin(text: str, extra: tuple[str, ...] = ()) -> None:
    assert SIGN_PIN not in text
    for pin in (AUTH_PIN, *extra):
        # PINs of 4 digits could show up inside a hexadecimal serial by chance: look for them standing alone
        assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(pin)}(?![0-9A-Za-z])", text), text


def jlis(
    *args: str, env: dict[str, str] | None = None, pins: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``jlis jpki ARGS`` in a child process without a terminal (a missing PIN cannot become a prompt)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JLIS_SIGN", "JLIS_AUTH", "JLIS_NEW"))}
    result = subprocess.run(
        [sys.executable, "-m", "jlis.cli", "jpki", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    _no_pin(result.stdout + result.stderr, pins)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = jlis(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ok_json(*args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(ok(*args, "--json", env=env))


def refused(*args: str, env: dict[str, str] | None = None, pins: tuple[str, ...] = ()) -> str:
    """The one-line error of a command that must fail."""
    result = jlis(*args, env=env, pins=pins)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("jpki-cli"))


@pytest.fixture
def jpki(home: Path) -> Iterator[Jpki]:
    opened = Jpki.open(home)
    yield opened
    opened.close()


def add(
    home: Path, *, birth: str = "1990-01-02", name: str = "山田　太郎", guardianship: bool = False
) -> str:
    code = str(next(_codes))
    args = ["resident", "add", "--home", str(home), "--code", code, "--name", name, "--birth", birth]
    args += ["--sex", "1", "--address", ADDRESS, "--municipality", "131016"]
    ok(*args, *(["--guardianship"] if guardianship else []))
    return code


def issue(home: Path, code: str, env: dict[str, str] = PINS) -> dict[str, Any]:
    doc: dict[str, Any] = ok_json("card", "issue", "--home", str(home), "--resident", code, env=env)
    return doc


def show(home: Path, code: str) -> dict[str, Any]:
    doc: dict[str, Any] = ok_json("resident", "show", "--home", str(home), "--code", code)
    return doc


def states(card: dict[str, Any]) -> dict[str, str]:
    return {cert["serial"]: cert["state"] for cert in card["certificates"]}


def audit_length(jpki: Jpki) -> int:
    return sum(1 for _ in jpki.pki.store.audit_records())


# -- residents and events -----------------------------------------------------------------------------------


def test_resident_add_and_show(home: Path) -> None:
    code = str(next(_codes))
    added = ok_json(
        "resident", "add", "--home", str(home), "--code", code, "--name", "佐藤　花子",
        "--birth", "1985-04-01", "--sex", "2", "--address", ADDRESS, "--municipality", "131016",
    )  # fmt: skip
    assert added["four_info"]["birth_code"] == "319850401"  # era 3: Shōwa
    shown = show(home, code)
    assert shown["four_info"] == added["four_info"]
    assert (shown["status"], shown["municipality"], shown["cards"]) == ("resident", "131016", [])
    assert shown["signing_refusal"] is None
    text = ok("resident", "show", "--home", str(home), "--code", code)
    assert "佐藤　花子" in text and ADDRESS in text
    again = refused(
        "resident", "add", "--home", str(home), "--code", code, "--name", "x", "--birth", "1985-04-01",
        "--sex", "2", "--address", ADDRESS, "--municipality", "131016",
    )  # fmt: skip
    assert "already registered" in again


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--birth": "1985-13-01"}, "--birth: write the date as YYYY-MM-DD"),
        ({"--sex": "4"}, "sex"),
        ({"--code": "123"}, "11-digit resident code"),
        ({"--municipality": "99"}, "municipality"),
        ({"--address": "東京都\n千代田区"}, "control character"),
    ],
    ids=["date", "sex", "code", "municipality", "address"],
)
def test_bad_resident_is_one_line(home: Path, change: dict[str, str], message: str) -> None:
    values = {
        "--code": str(next(_codes)),
        "--name": "山田　太郎",
        "--birth": "1990-01-02",
        "--sex": "1",
        "--address": ADDRESS,
        "--municipality": "131016",
        **change,
    }
    assert message in refused("resident", "add", "--home", str(home), *itertools.chain(*values.items()))


def test_move_revokes_the_signing_certificate_and_reissue_follows(home: Path, jpki: Jpki) -> None:
    code = add(home)
    card = issue(home, code)
    assert card["signing_serial"] and card["auth_serial"] and card["signing_refusal"] is None
    event = [
        "resident", "event", "--home", str(home), "--code", code, "--move", "大阪府大阪市北区梅田1番",
        "--municipality", "271004", "--event-id", f"mv-{code}",
    ]  # fmt: skip
    outcome = ok_json(*event)
    assert (outcome["state"], outcome["new"], outcome["kind"]) == ("applied", True, "move")
    assert outcome["revoked"] == [
        {
            "kind": "signing",
            "ca": "jpki-sign",
            "serial": card["signing_serial"],
            "reason": "affiliationChanged",
        }
    ]
    assert ok_json(*event)["new"] is False  # a replay does nothing again
    shown = show(home, code)
    assert shown["four_info"]["address"] == "大阪府大阪市北区梅田1番" and shown["municipality"] == "271004"
    assert states(shown["cards"][0]) == {card["signing_serial"]: "revoked", card["auth_serial"]: "current"}
    row = jpki.pki.store.status("jpki-sign", int(card["signing_serial"], 16))
    assert row is not None and (row.status, row.reason) == (
        CertStatus.revoked,
        RevocationReason.affiliation_changed,
    )

    new = ok_json("card", "reissue", "--home", str(home), "--card", card["card_id"])
    assert states(show(home, code)["cards"][0])[new["signing_serial"]] == "current"
    assert "still valid" in refused("card", "reissue", "--home", str(home), "--card", card["card_id"])


def test_event_options_are_checked(home: Path) -> None:
    code = add(home)
    base = ["resident", "event", "--home", str(home), "--code", code]
    assert "exactly one of" in refused(*base, "--move", "大阪府", "--rename", "山田　次郎")
    assert "exactly one of" in refused(*base)
    assert "leave out --on" in refused(*base, "--death", "2026-01-01", "--on", "2026-01-01")
    assert "--municipality goes with" in refused(*base, "--rename", "山田　次郎", "--municipality", "271004")
    assert "YYYY-MM-DD" in refused(*base, "--emigrate", "soon")
    assert "no resident" in refused(
        "resident", "event", "--home", str(home), "--code", "39999999999", "--rename", "x"
    )


def test_death_revokes_both_and_emigration_waits_for_its_day(home: Path) -> None:
    code = add(home)
    card = issue(home, code)
    later = ok_json("resident", "event", "--home", str(home), "--code", code, "--emigrate", "2099-01-01")
    assert (later["state"], later["revoked"]) == ("scheduled", [])
    assert later["event_id"].startswith("cli-")
    due = ok_json("events", "apply-due", "--home", str(home))
    assert later["event_id"] not in [o["event_id"] for o in due]
    today = dt.datetime.now(JST).date().isoformat()
    death = ok_json("resident", "event", "--home", str(home), "--code", code, "--death", today)
    assert {(r["kind"], r["reason"]) for r in death["revoked"]} == {
        ("signing", "cessationOfOperation"),
        ("auth", "cessationOfOperation"),
    }
    assert show(home, code)["status"] == "deceased"
    assert "deceased" in refused("card", "issue", "--home", str(home), "--resident", code, env=PINS)
    assert states(show(home, code)["cards"][0]) == {
        card["signing_serial"]: "revoked",
        card["auth_serial"]: "revoked",
    }


# -- cards ------------------------------------------------------------------------------------------------


def test_card_show_and_a_wrong_old_pin(home: Path, tmp_path: Path) -> None:
    code = add(home)
    card = issue(home, code)
    shown = ok_json("card", "show", "--home", str(home), "--card", card["card_id"])
    assert shown["pin_tries_left"] == {"signing": 5, "auth": 3}
    assert (shown["status"], shown["resident"], shown["expires_on"]) == ("active", code, card["expires_on"])
    assert {c["serial"] for c in shown["certificates"]} == {card["signing_serial"], card["auth_serial"]}
    assert all(c["state"] == "current" and c["not_after"] for c in shown["certificates"])

    change = ["card", "change-pin", "--home", str(home), "--card", card["card_id"], "--slot"]
    wrong = refused(*change, "signing", env={"JLIS_SIGN_PIN": "WRONG99", "JLIS_NEW_PIN": "NEWPIN77"})
    assert "incorrect signing PIN: 4 tries left" in wrong
    wrong = refused(*change, "auth", env={"JLIS_AUTH_PIN": "0000", "JLIS_NEW_PIN": "9753"}, pins=("9753",))
    assert "incorrect auth PIN: 2 tries left" in wrong
    tries = ok_json("card", "show", "--home", str(home), "--card", card["card_id"])["pin_tries_left"]
    assert tries == {"signing": 4, "auth": 2}
    # a malformed new PIN spends no try
    assert "signing PIN: must be" in refused(*change, "signing", env={**PINS, "JLIS_NEW_PIN": "abc"})
    ok(*change, "signing", env={**PINS, "JLIS_NEW_PIN": "NEWPIN77"})
    pin_file = tmp_path / "pins"
    pin_file.write_text(f"{AUTH_PIN}\n9753\n")
    result = jlis(*change, "auth", "--pin-source", str(pin_file), pins=("9753",))
    assert result.returncode == 0, result.stderr
    tries = ok_json("card", "show", "--home", str(home), "--card", card["card_id"])["pin_tries_left"]
    assert tries == {"signing": 5, "auth": 3}
    assert "--slot 'both'" in refused(*change, "both", env=PINS)


def test_a_child_card_needs_no_signing_pin(home: Path) -> None:
    code = add(home, birth="2016-02-29")
    card = issue(home, code, env=AUTH_ONLY)
    assert card["signing_serial"] is None
    assert card["signing_refusal"] == "holders under 15 get no signing certificate"
    ward = add(home, guardianship=True)
    assert "guardianship" in issue(home, ward, env=AUTH_ONLY)["signing_refusal"]


def test_missing_or_malformed_pins_change_nothing(home: Path) -> None:
    code = add(home)
    base = ["card", "issue", "--home", str(home), "--resident", code]
    assert "no signing PIN given" in refused(*base)
    assert "no signing PIN given" in refused(*base, env=AUTH_ONLY)
    assert "auth PIN: must be exactly 4" in refused(
        *base, env={**PINS, "JLIS_AUTH_PIN": "12345"}, pins=("12345",)
    )
    assert "signing PIN: may contain only" in refused(*base, env={**PINS, "JLIS_SIGN_PIN": "lower123"})
    assert "no resident" in refused(
        "card", "issue", "--home", str(home), "--resident", "39999999998", env=PINS
    )
    assert show(home, code)["cards"] == []
    assert "not found" in refused("card", "show", "--home", str(home), "--card", "NOSUCHCARD")


def test_the_prompt_reads_pins_without_echo(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jlis.cli import app

    code = add(home)
    monkeypatch.setattr("jlis.cli.jpki_pins._interactive", lambda: True)
    for name in ("JLIS_SIGN_PIN", "JLIS_AUTH_PIN"):
        monkeypatch.delenv(name, raising=False)
    answers = f"{SIGN_PIN}\n{SIGN_PIN}\n{AUTH_PIN}\n{AUTH_PIN}\n"
    args = ["jpki", "card", "issue", "--home", str(home), "--resident", code, "--json"]
    result = CliRunner().invoke(app, args, input=answers)
    assert result.exit_code == 0, result.output
    _no_pin(result.output)
    assert show(home, code)["cards"][0]["card_id"] in result.stdout


def test_lost_card_and_renewal(home: Path) -> None:
    code = add(home)
    card = issue(home, code)
    renewed = ok_json("card", "renew", "--home", str(home), "--card", card["card_id"])
    assert renewed["card_id"] == card["card_id"]
    assert {renewed["auth_serial"], renewed["signing_serial"]}.isdisjoint(
        {card["auth_serial"], card["signing_serial"]}
    )
    after = states(show(home, code)["cards"][0])
    assert after[card["auth_serial"]] == after[card["signing_serial"]] == "superseded"
    lost = ok_json("card", "lost", "--home", str(home), "--card", card["card_id"])
    assert {(r["serial"], r["reason"]) for r in lost["revoked"]} == {
        (renewed["auth_serial"], "keyCompromise"),
        (renewed["signing_serial"], "keyCompromise"),
    }
    assert show(home, code)["cards"][0]["status"] == "lost"
    assert "lost, not active" in refused("card", "renew", "--home", str(home), "--card", card["card_id"])


# -- export, decode, sign -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any], Path]:
    code = add(home, name="鈴木　一郎")
    card = issue(home, code)
    out = tmp_path_factory.mktemp("export") / "pem"
    ok("card", "export", "--home", str(home), "--card", card["card_id"], "--dir", str(out))
    return code, card, out


def test_export_writes_pems_openssl_reads(exported: tuple[str, dict[str, Any], Path], openssl: str) -> None:
    _, card, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["auth-ca.pem", "auth.pem", "sign-ca.pem", "sign.pem"]
    for name, serial in (("sign", card["signing_serial"]), ("auth", card["auth_serial"])):
        read = subprocess.run(
            [openssl, "x509", "-in", str(out / f"{name}.pem"), "-noout", "-serial"],
            capture_output=True,
            text=True,
        )
        assert read.returncode == 0, read.stderr
        assert int(read.stdout.strip().split("=")[1], 16) == int(serial, 16)
        verify = subprocess.run(
            [openssl, "verify", "-CAfile", str(out / f"{name}-ca.pem"), str(out / f"{name}.pem")],
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_child_card_exports_no_sign_pem(home: Path, tmp_path: Path) -> None:
    card = issue(home, add(home, birth="2020-06-01"), env=AUTH_ONLY)
    ok("card", "export", "--home", str(home), "--card", card["card_id"], "--dir", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth-ca.pem", "auth.pem", "sign-ca.pem"]


def test_cert_decode_round_trip(home: Path, exported: tuple[str, dict[str, Any], Path], openssl: str) -> None:
    code, _, out = exported
    decoded = ok_json("cert", "decode", str(out / "sign.pem"))
    assert decoded == show(home, code)["four_info"]
    der = out.parent / "sign.der"
    subprocess.run(
        [openssl, "x509", "-in", str(out / "sign.pem"), "-outform", "DER", "-out", str(der)], check=True
    )
    assert ok_json("cert", "decode", str(der)) == decoded
    assert "鈴木　一郎" in ok("cert", "decode", str(der))
    assert "not a JPKI signing certificate" in refused("cert", "decode", str(out / "auth.pem"))
    (out.parent / "junk.pem").write_text("junk")
    assert "not a certificate" in refused("cert", "decode", str(out.parent / "junk.pem"))


def test_card_sign_verifies_with_openssl(
    home: Path, exported: tuple[str, dict[str, Any], Path], openssl: str, tmp_path: Path
) -> None:
    _, card, out = exported
    document = tmp_path / "doc.txt"
    document.write_bytes("申請書: 住所変更\n".encode())
    base = ["card", "sign", "--home", str(home), "--card", card["card_id"], "--in", str(document)]
    ok(*base, "--out", str(tmp_path / "doc.p7s"), env=PINS)
    ok(*base, "--out", str(tmp_path / "doc.pem"), env=PINS)
    assert (tmp_path / "doc.pem").read_text().startswith("-----BEGIN CMS-----")

    def verify(signature: str, content: Path, form: str = "DER") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                openssl, "cms", "-verify", "-binary", "-inform", form, "-in", str(tmp_path / signature),
                "-content", str(content), "-CAfile", str(out / "sign-ca.pem"), "-purpose", "any",
                "-out", os.devnull,
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip

    good = verify("doc.p7s", document)
    assert good.returncode == 0, good.stderr
    assert verify("doc.pem", document, "PEM").returncode == 0
    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(document.read_bytes().replace("住所".encode(), "氏名".encode()))
    assert verify("doc.p7s", tampered).returncode != 0
    wrong = refused(*base, "--out", str(tmp_path / "x.p7s"), env={"JLIS_SIGN_PIN": "WRONG99"})
    assert "incorrect signing PIN" in wrong and not (tmp_path / "x.p7s").exists()


# -- notices ------------------------------------------------------------------------------------------------


def test_notices_list_what_expires_within_the_window(home: Path, tmp_path: Path) -> None:
    adult = issue(home, add(home))
    child = issue(home, add(home, birth="2019-03-03"), env=AUTH_ONLY)
    text = ok("notices", "--home", str(home), "--within", "61m")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "what",
        "card_id",
        "resident",
        "holder",
        "kind",
        "serial",
        "expires_on",
        "action",
    ]
    mine = {
        (r["what"], r["kind"], r["serial"])
        for r in rows
        if r["card_id"] in (adult["card_id"], child["card_id"])
    }
    assert mine == {
        ("certificate", "auth", adult["auth_serial"]),
        ("certificate", "signing", adult["signing_serial"]),
        ("certificate", "auth", child["auth_serial"]),
        ("card", "", ""),  # a child's card runs 5 years; an adult's 10
    }
    out = tmp_path / "notices.json"
    ok("notices", "--home", str(home), "--within", "61m", "--format", "json", "--out", str(out))
    docs = json.loads(out.read_text())
    assert {d["serial"] for d in docs} >= {
        adult["auth_serial"],
        adult["signing_serial"],
        child["auth_serial"],
    }
    near = json.loads(ok("notices", "--home", str(home), "--format", "json"))
    assert not {d["card_id"] for d in near} & {adult["card_id"], child["card_id"]}
    assert "give months as Nm" in refused("notices", "--home", str(home), "--within", "3y")
    assert "use csv or json" in refused("notices", "--home", str(home), "--format", "xml")


# -- batches ------------------------------------------------------------------------------------------------


def batch_file(path: Path, codes: list[str], bad: dict[int, tuple[str, str]] | None = None) -> Path:
    births = ["1980-03-04", "1982-07-08", "2016-01-01", "1950-12-31", "1999-09-09"]
    lines = ["code,name,birth,sex,address,municipality,guardianship"]
    for number, (code, birth) in enumerate(zip(codes, itertools.cycle(births), strict=False), 1):
        row = {"code": code, "name": "佐藤　一郎", "birth": birth, "sex": "1", "address": ADDRESS}
        row |= {"municipality": "131032", "guardianship": "yes" if number == 4 else ""}
        if bad and number in bad:
            row[bad[number][0]] = bad[number][1]
        lines.append(",".join(row.values()))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def pin_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch.pins"
    path.write_text(f"{SIGN_PIN}\n{AUTH_PIN}\n")
    return path


def cards_per_resident(jpki: Jpki, codes: list[str]) -> list[int]:
    return [len(jpki.records.cards_of(code)) for code in codes]


def test_issue_batch_then_rerun_issues_nothing_new(
    home: Path, jpki: Jpki, tmp_path: Path, pin_file: Path
) -> None:
    codes = [str(next(_codes)) for _ in range(5)]
    file = batch_file(tmp_path / "batch.csv", codes)
    args = ["issue-batch", str(file), "--home", str(home), "--pin-source", str(pin_file), "--chunk", "2"]
    first = ok_json(*args)
    assert first["batch"] == hashlib.sha256(file.read_bytes()).hexdigest()[:16]
    assert (first["rows"], first["residents_added"], first["cards_new"]) == (5, 5, 5)
    assert (first["signing_certificates"], first["without_signing"]) == (3, 2)  # under 15, guardianship
    again = ok_json(*args)
    assert (again["residents_added"], again["residents_kept"], again["cards_new"]) == (0, 5, 0)
    assert again["cards_already_issued"] == 5
    assert "cards new 0" in ok(*args[:-2])
    assert cards_per_resident(jpki, codes) == [1] * 5
    assert show(home, codes[0])["four_info"]["name"] == "佐藤　一郎"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ((3, ("birth", "2001-02-30")), "row 3: birth is not a YYYY-MM-DD date"),
        ((2, ("sex", "9")), "row 2: basic 4 information: sex"),
        ((4, ("address", " ")), "row 4: basic 4 information: address"),
        ((5, ("municipality", "1")), "row 5: resident record: municipality"),
        ((1, ("code", "123")), "row 1: resident record: code"),
    ],
    ids=["date", "sex", "address", "municipality", "code"],
)
def test_a_bad_row_issues_nothing(
    home: Path, jpki: Jpki, tmp_path: Path, pin_file: Path, bad: tuple[int, tuple[str, str]], message: str
) -> None:
    codes = [str(next(_codes)) for _ in range(5)]
    file = batch_file(tmp_path / "bad.csv", codes, dict([bad]))
    before = audit_length(jpki)
    assert message in refused("issue-batch", str(file), "--home", str(home), "--pin-source", str(pin_file))
    assert audit_length(jpki) == before
    for code in codes[1:]:
        with pytest.raises(UnknownResident):
            jpki.resident(code)


def test_batch_header_and_pins_are_checked(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "head.csv"
    file.write_text("code,name,born,sex,address,municipality\n")
    assert "header missing birth" in refused("issue-batch", str(file), "--home", str(home))
    codes = [str(next(_codes)) for _ in range(2)]
    file = batch_file(tmp_path / "batch.csv", codes)
    assert "no signing PIN given" in refused("issue-batch", str(file), "--home", str(home))
    one = tmp_path / "one.pin"
    one.write_text(f"{AUTH_PIN}\n")
    assert "the signing PIN then the auth PIN" in refused(
        "issue-batch", str(file), "--home", str(home), "--pin-source", str(one)
    )


def test_a_crashed_batch_resumes_without_duplicates(
    home: Path, jpki: Jpki, tmp_path: Path, pin_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jlis.cli import app

    codes = [str(next(_codes)) for _ in range(4)]
    file = batch_file(tmp_path / "crash.csv", codes)
    real = Jpki._finish
    calls = {"n": 0}

    def crash_on_second(self: Jpki, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")  # the second chunk's certificates are issued, not yet recorded
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Jpki, "_finish", crash_on_second)
    args = [
        "jpki",
        "issue-batch",
        str(file),
        "--home",
        str(home),
        "--pin-source",
        str(pin_file),
        "--chunk",
        "2",
    ]
    crashed = CliRunner().invoke(app, args)
    assert isinstance(crashed.exception, RuntimeError)
    monkeypatch.undo()

    resumed = ok_json(*args[1:])
    assert (resumed["residents_added"], resumed["cards_new"]) == (0, 0)
    assert (resumed["cards_already_issued"], resumed["cards_resumed"]) == (2, 2)
    assert cards_per_resident(jpki, codes) == [1] * 4
    for code in codes:
        card_id = jpki.records.cards_of(code)[0].card_id
        for ca in ("jpki-auth", "jpki-sign"):
            wanted = 0 if ca == "jpki-sign" and code in (codes[2], codes[3]) else 1
            assert len(jpki.pki.store.certificates(ca, holder_ref=f"jpki-card:{card_id}")) == wanted
        assert {h.kind for h in jpki.records.certs(code=code)} >= {CertKind.auth}
