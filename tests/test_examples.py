"""Every ``examples/*.py`` script runs to completion: the examples are documentation that must not rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
SOFTHSM_REQUIREMENT = "# requires: softhsm"
DEFAULT_SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TIMEOUT_S = 120


def requires_softhsm(script: Path) -> bool:
    return any(line.strip() == SOFTHSM_REQUIREMENT for line in script.read_text().splitlines())


def example_params() -> list[object]:
    """One param per script, id = file name; SoftHSM scripts carry the ``softhsm`` marker."""
    return [
        pytest.param(script, id=script.name, marks=[pytest.mark.softhsm] if requires_softhsm(script) else [])
        for script in sorted(EXAMPLES_DIR.glob("*.py"))
    ]


def skip_unless_softhsm_available(script: Path) -> None:
    """Locally a missing SoftHSM skips with the reason; with CI=true the script runs (and fails) instead."""
    module = Path(os.environ.get("JLIS_PKCS11_MODULE", DEFAULT_SOFTHSM_MODULE))
    if requires_softhsm(script) and not module.exists() and os.environ.get("CI") != "true":
        pytest.skip(f"{script.name} requires SoftHSM: {module} not found (apt-get install softhsm2)")


def text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def run_example(script: Path, cwd: Path) -> None:
    """Run the script as a reader would (same interpreter, scratch cwd); on failure, show its output."""
    try:
        result = subprocess.run(
            [sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        output = f"--- stdout\n{text(exc.stdout)}--- stderr\n{text(exc.stderr)}"
        pytest.fail(f"{script.name} did not finish within {TIMEOUT_S} s\n{output}")
    output = f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    assert result.returncode == 0, f"{script.name} exited with {result.returncode}\n{output}"


EXAMPLES = example_params()

# Defined only when there are examples: an empty parametrisation would report a skipped placeholder instead.
if EXAMPLES:

    @pytest.mark.parametrize("script", EXAMPLES)
    def test_example_runs(script: Path, tmp_path: Path) -> None:
        skip_unless_softhsm_available(script)
        run_example(script, tmp_path)
