"""Test fixtures: a SoftHSM installation private to this test session, and key backends to run suites on.

SoftHSM reads its configuration and sees only the tokens that exist when the module is initialised, so
``pytest_configure`` writes a private ``softhsm2.conf`` (``SOFTHSM2_CONF``) and creates every token the
tests use before anything loads the module. SoftHSM tests skip with a reason when the module or its tools
are missing, except under ``CI=true``, where they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from hsm.p11_module import default_module

IN_CI = os.environ.get("CI") == "true"
USER_PIN = "135792"
SO_PIN = "24681357"
TOKENS = ("jlis-test", "jlis-cli", "wrap-src", "wrap-dst", "pin-test", "bench")
"""Every token a test may use; each test module takes its own so they do not interfere."""


@dataclass(frozen=True)
class SoftHsm:
    module: str
    conf: Path
    pin_file: Path
    so_pin_file: Path

    def uri(self, token: str) -> str:
        return f"pkcs11:token={token}?module-path={self.module}"


_softhsm: SoftHsm | None = None
_softhsm_missing = ""


def pytest_configure(config: pytest.Config) -> None:
    global _softhsm, _softhsm_missing
    module = default_module()
    if module is None or shutil.which("softhsm2-util") is None:
        _softhsm_missing = "SoftHSM 2 is not installed (apt-get install softhsm2 opensc)"
        return
    root = Path(tempfile.mkdtemp(prefix="jlis-softhsm-"))
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in TOKENS:
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ],
            check=True,
            capture_output=True,
        )
    pin_file = root / "user.pin"
    pin_file.write_text(USER_PIN + "\n")
    so_pin_file = root / "so.pin"
    so_pin_file.write_text(SO_PIN + "\n")
    for path in (pin_file, so_pin_file):
        path.chmod(0o600)
    _softhsm = SoftHsm(module, conf, pin_file, so_pin_file)
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))


def need_softhsm() -> SoftHsm:
    """The session's SoftHSM; skips (locally) or fails (CI) when it is missing."""
    if _softhsm is None:
        if IN_CI:
            pytest.fail(f"SoftHSM tests are required in CI: {_softhsm_missing}")
        pytest.skip(_softhsm_missing)
    return _softhsm


@pytest.fixture(scope="session")
def softhsm() -> SoftHsm:
    return need_softhsm()


@pytest.fixture(scope="session")
def pkcs11_tool() -> str:
    path = shutil.which("pkcs11-tool")
    if path is None:
        if IN_CI:
            pytest.fail("pkcs11-tool is required in CI (apt-get install opensc)")
        pytest.skip("pkcs11-tool is not installed (apt-get install opensc)")
    return path


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl is required (apt-get install openssl)")
    return path


def run_jlis(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "jlis.cli", *args], capture_output=True, text=True, env=full_env, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"jlis {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
"""Real JPKI and LGPKI CA certificates, in shared/ beside the repository (CI lays it out the same way)."""


@pytest.fixture(scope="session")
def reference() -> Path:
    if not (REFERENCE / "jpki").is_dir():
        why = f"the reference certificates are not at {REFERENCE} (shared/ beside the repository)"
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return REFERENCE
