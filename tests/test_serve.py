"""`jlis serve` end to end: the real server in a subprocess, as the Quick start runs it."""

import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RunningServer:
    """A `jlis serve` subprocess answering on ``url``, with its output captured in files."""

    url: str
    home: Path
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return f"--- stdout\n{self.stdout.read_text()}--- stderr\n{self.stderr.read_text()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def jlis(*args: str) -> list[str]:
    return [sys.executable, "-m", "jlis.cli", *args]


def wait_until_healthy(proc: subprocess.Popen[bytes], server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jlis serve exited with {proc.returncode} before answering\n{server.output()}")
        try:
            httpx.get(f"{server.url}/healthz", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"/healthz did not answer within {STARTUP_TIMEOUT_S:.0f} s\n{server.output()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    port = free_port()
    running = RunningServer(
        url=f"http://127.0.0.1:{port}",
        home=tmp_path / "home",
        stdout=tmp_path / "stdout.txt",
        stderr=tmp_path / "stderr.txt",
    )
    args = jlis("serve", "--home", str(running.home), "--host", "127.0.0.1", "--port", str(port))
    with running.stdout.open("wb") as out, running.stderr.open("wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=tmp_path)
    try:
        wait_until_healthy(proc, running)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_answers_healthz_and_docs(server: RunningServer) -> None:
    health = httpx.get(f"{server.url}/healthz", timeout=5.0)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert isinstance(health.json()["version"], str)
    docs = httpx.get(f"{server.url}/docs", timeout=5.0)
    assert docs.status_code == 200, docs.text


def test_serve_creates_private_home_and_prints_urls(server: RunningServer) -> None:
    assert server.home.is_dir()
    assert stat.S_IMODE(server.home.stat().st_mode) == 0o700
    printed = server.stdout.read_text()
    assert f"{server.url}/healthz" in printed
    assert f"{server.url}/docs" in printed


def test_serve_on_a_busy_port_fails_with_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            jlis("serve", "--home", str(tmp_path / "home"), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_S,
            cwd=tmp_path,
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0]
    assert "in use" in lines[0]
