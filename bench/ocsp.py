"""OCSP responder throughput: ``jlis serve`` vs ``openssl ocsp -index``, both driven by wrk (not a test).

    .venv/bin/python bench/ocsp.py [--certs 10000] [--seconds 10] [--rounds 1] [--workers 2]
                                   [--threads 2] [--connections 16] [--revoked 0.1] [--no-softhsm]

Needs root: the script runs itself again inside a private network namespace (``unshare --net``), because
``openssl ocsp`` binds every interface; both responders and wrk then share a loopback no one else sees.
wrk (Debian ``wrk``) is installed with apt when missing.

Setup: a PKI home per key backend (file keys; SoftHSM) with ``--certs`` tls-server certificates from
lgpki-app-sub (a delegated OCSP responder, RSA-2048 like the CA key), ``--revoked`` of them revoked; in the
file home their responses are pre-signed by ``jlis ocsp presign`` and OpenSSL gets an index.txt of the same
certificates and an RSA-2048 responder certificate of the same CA (profile ocsp-responder).

Measured with wrk (keep-alive, ``--connections`` over ``--threads``, each request for another certificate,
cycling over all of them; OpenSSL answers HTTP/1.0 and closes, so wrk reconnects for it):

1. GET, SHA-1 CertID, no nonce: ours answers pre-signed responses, OpenSSL signs every one;
2. POST with a nonce (distinct per certificate): both sign online; ours with a file key and with SoftHSM;
3. the raw rate of our responder's own Signer (1 KiB messages): 1 thread, ``--workers`` threads and
   ``--workers`` processes, with no server running.

Both responders are checked with ``openssl ocsp`` first (good and revoked, signature, nonce; ours must
sign with the key whose raw rate is measured), and our ``/metrics`` are read around every run (outcomes,
signatures made: an OCSP error is still HTTP 200). The CPU time of the server's processes and of wrk is
recorded for every run. Every CA's responder credential is made before our server starts (as after any
earlier start) and ours gets a short warm-up before each measured run (its workers fill their memory from
the store); OpenSSL is started afresh for each run (its 3.0 HTTP server spins on a connection that a client
closes unanswered, as wrk does when it stops: openssl/openssl#23934, #31129).

With ``--rounds N`` every measurement is repeated N times, interleaved; a rate is then the total over the
rounds and p50/p99 the median of the rounds' values.

Goals (issue): pre-signed GET >= 3x OpenSSL's GET rate; online POST >= 0.8 of the raw signing rate of as
many signers as workers (the better of threads and processes: the workers are processes).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import multiprocessing as mp
import os
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

# This file is named like the ocsp package (and bench/hsm.py like hsm): keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # for bench_support, after the package paths

from bench_support import threaded_rate  # noqa: E402  (path fixed above)
from cryptography import x509  # noqa: E402  (after the path fix above)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

if TYPE_CHECKING:
    from hsm import Signer
    from pki import Pki
    from pki.store import RevocationRow

CA_ID = "lgpki-app-sub"
"""Answers OCSP to anyone, with a delegated responder and nonces (jpki-* answer registered verifiers only)."""
ACTOR = "bench"
PORT = 18080
OPENSSL_PORT = 18081
HOST = "127.0.0.1"
BASE_URL = f"http://{HOST}:{PORT}"
NETNS_MARK = "JLIS_BENCH_OCSP_NETNS"
MESSAGE = bytes(range(256)) * 4
"""1 KiB, about the size of a ResponseData."""
NEXT_UPDATE_MINUTES = 60
"""OpenSSL's nextUpdate (``-nmin``), as long as ours (one hour)."""
PACKAGES = {"wrk": "wrk", "openssl": "openssl", "ip": "iproute2", "softhsm2-util": "softhsm2"}
"""Commands the bench runs, and the Debian packages that have them."""

WRK_SCRIPT = r"""-- Cycle through the requests of a file: args FILE METHOD THREADS. GET: one path per line.
-- POST: one DER OCSPRequest per line, in hex, sent to the URL's path. done() prints one result line.
local reqs, n, i, made = {}, 0, 0, 0

function setup(thread)
  thread:set("id", made)
  made = made + 1
end

function init(args)
  local file, method, threads = args[1], args[2], tonumber(args[3])
  local headers = { ["Content-Type"] = "application/ocsp-request" }
  for line in io.lines(file) do
    if method == "GET" then
      reqs[#reqs + 1] = wrk.format("GET", line)
    else
      local body = line:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
      reqs[#reqs + 1] = wrk.format("POST", wrk.path, headers, body)
    end
  end
  n = #reqs
  i = math.floor(n * id / threads)
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""

_started = time.perf_counter()


def say(text: str) -> None:
    """A progress line with the time since the start."""
    print(f"[{time.perf_counter() - _started:6.1f} s] {text}", flush=True)


# -- environment: packages, private network ---------------------------------------------------------------


def ensure_packages(commands: Sequence[str]) -> None:
    """Install the Debian packages of missing commands with apt, as scripts/lib.sh does."""
    missing = sorted({PACKAGES[c] for c in commands if shutil.which(c) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(
            f"missing Debian packages: {' '.join(missing)} (apt-get install {' '.join(missing)})"
        )
    print(f"==> installing Debian packages: {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def enter_private_network() -> None:
    """Run this script again in a new network namespace with only a loopback; return once inside it."""
    if os.environ.get(NETNS_MARK) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root: the responders run in a private network namespace (unshare --net)")
    os.environ[NETNS_MARK] = "1"
    os.execvp("unshare", ["unshare", "--net", "--", sys.executable, *sys.argv])


# -- the certificates, the requests, OpenSSL's files --------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """A home's certificates as the responders and wrk see them (files in ``directory``)."""

    name: str
    home: Path
    directory: Path
    ca_pem: Path
    chain_pem: Path
    """The CA and its root: what a relying party trusts to verify a response."""
    good_index: int
    """A good certificate (``good.pem``)."""
    revoked_index: int
    """A revoked certificate (``revoked.pem``)."""
    get_paths: list[str]
    """Per certificate, the base64 of a SHA-1 CertID request without nonce, percent-encoded (RFC 5019)."""
    post_file: Path
    """Per certificate, a request with a fresh nonce, one hex DER per line."""

    def pem(self, status: str) -> Path:
        return self.directory / f"{status}.pem"

    def get_file(self, prefix: str) -> Path:
        """wrk's GET paths under ``prefix`` (``/ocsp/`` for ours, ``/`` for OpenSSL's server)."""
        path = self.directory / f"get{prefix.replace('/', '_')}.txt"
        if not path.exists():
            path.write_text("".join(f"{prefix}{p}\n" for p in self.get_paths))
        return path


def make_home(root: Path, name: str, keys: str, args: argparse.Namespace) -> tuple[Pki, Corpus]:
    """A new home with ``args.certs`` certificates of CA_ID, ``args.revoked`` of them revoked."""
    from pki import Pki, RevocationReason
    from pki.home import KeyMode

    started = time.perf_counter()
    pki = Pki.initialise(root / name / "home", keys=KeyMode(keys), base_url=BASE_URL)
    ca = pki.ca(CA_ID)
    certs = issue(pki, args.certs)
    rng = random.Random(args.seed)
    chosen = sorted(rng.sample(range(len(certs)), round(len(certs) * args.revoked)))
    revoked = {
        i: ca.revoke(certs[i].serial_number, RevocationReason.key_compromise, actor=ACTOR) for i in chosen
    }
    directory = root / name
    corpus = write_corpus(pki, name, directory, certs, set(revoked))
    if keys == "file":
        write_index(certs, revoked, directory / "index.txt")
    say(
        f"{name}: home ({keys} keys), {len(certs):,} certificates, {len(revoked):,} revoked, requests "
        f"written in {time.perf_counter() - started:.1f} s"
    )
    return pki, corpus


def issue(pki: Pki, count: int) -> list[x509.Certificate]:
    """``count`` tls-server certificates of one P-256 subject key, each for its own name."""
    from pki import IssueRequest

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    requests = [
        IssueRequest(
            "tls-server",
            public_key=key,
            subject={"CN": f"h{i}.example.jp"},
            san=(x509.DNSName(f"h{i}.example.jp"),),
        )
        for i in range(count)
    ]
    return pki.ca(CA_ID).issue_requests(requests, actor=ACTOR)


def write_corpus(
    pki: Pki, name: str, directory: Path, certs: Sequence[x509.Certificate], revoked: set[int]
) -> Corpus:
    issuer = pki.ca(CA_ID).certificate
    root = pki.ca(str(pki.definition.ca(CA_ID).issuer)).certificate
    pem = serialization.Encoding.PEM
    ca_pem, chain_pem = directory / "ca.pem", directory / "chain.pem"
    ca_pem.write_bytes(issuer.public_bytes(pem))
    chain_pem.write_bytes(issuer.public_bytes(pem) + root.public_bytes(pem))
    good = next(i for i in range(len(certs)) if i not in revoked)
    (directory / "good.pem").write_bytes(certs[good].public_bytes(pem))
    (directory / "revoked.pem").write_bytes(certs[min(revoked)].public_bytes(pem))
    gets, posts = requests_for(certs, issuer)
    post_file = directory / "post.txt"
    post_file.write_text("".join(f"{body.hex()}\n" for body in posts))
    return Corpus(
        name,
        directory / "home",
        directory,
        ca_pem,
        chain_pem,
        good,
        min(revoked),
        gets,
        post_file,
    )


def requests_for(
    certs: Sequence[x509.Certificate], issuer: x509.Certificate
) -> tuple[list[str], list[bytes]]:
    """Per certificate: a GET path (SHA-1 CertID, no nonce) and a POST body (the same, with a nonce)."""
    gets, posts = [], []
    for cert in certs:
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
        der = builder.build().public_bytes(serialization.Encoding.DER)
        gets.append(quote(base64.b64encode(der).decode(), safe=""))
        nonce = x509.OCSPNonce(secrets.token_bytes(16))
        posts.append(
            builder.add_extension(nonce, critical=False).build().public_bytes(serialization.Encoding.DER)
        )
    return gets, posts


def write_index(certs: Sequence[x509.Certificate], revoked: dict[int, RevocationRow], path: Path) -> None:
    """OpenSSL's CA database: ``V|R, expiry, [revocation,reason], SERIAL, unknown, subject``."""
    with path.open("w") as out:
        for i, cert in enumerate(certs):
            expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
            row = revoked.get(i)
            status, when = "V", ""
            if row is not None:
                status = "R"
                when = row.revoked_at.strftime("%y%m%d%H%M%SZ") + ",keyCompromise"
            serial = format(cert.serial_number, "X")
            serial = serial if len(serial) % 2 == 0 else "0" + serial
            out.write(f"{status}\t{expiry}\t{when}\t{serial}\tunknown\t/CN=h{i}.example.jp\n")
    path.with_name(path.name + ".attr").write_text("unique_subject = no\n")


def openssl_responder(pki: Pki, directory: Path) -> tuple[Path, Path]:
    """An RSA-2048 key for OpenSSL's responder (a throwaway, unencrypted in the temporary directory) and
    a delegated responder certificate for it from CA_ID, as PEM files."""
    from pki import IssueRequest

    key = rsa.generate_private_key(65537, 2048)
    request = IssueRequest("ocsp-responder", public_key=key.public_key(), subject={"CN": "openssl responder"})
    cert = pki.ca(CA_ID).issue_request(request, actor=ACTOR)
    cert_pem, key_pem = directory / "openssl-responder.pem", directory / "openssl-responder.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_pem, key_pem


def presign(corpus: Corpus) -> None:
    """``jlis ocsp presign`` for CA_ID, as an operator would run it before starting the responders."""
    started = time.perf_counter()
    result = subprocess.run(
        [jlis(), "ocsp", "presign", "--home", str(corpus.home), "--ca", CA_ID, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    say(f"{corpus.name}: jlis ocsp presign: {result.stdout.strip()} in {time.perf_counter() - started:.1f} s")


def responder_key(pki: Pki) -> tuple[str, x509.Certificate | None]:
    """The key URI and certificate of CA_ID's responder credential (the one every responder process of
    the home uses), after making every CA's credential that is missing."""
    from ocsp.service import OcspRuntime, OcspSettings

    runtime = OcspRuntime(pki, OcspSettings(presign_at_start=False))
    try:
        served = runtime.responder.index.cas
        # Every CA's credential exists before the server starts, as after any earlier run: the workers
        # then do not make responder keys and certificates during the measurement.
        for ca in served.values():
            runtime.responder.credentials.for_ca(ca)
        credential = runtime.responder.credentials.for_ca(served[CA_ID])
    finally:
        runtime.cache.close()
    return pki.config.key_uri(credential.signer.label), credential.certificate


def jlis() -> str:
    return str(Path(sys.executable).parent / "jlis")


# -- raw signing rate -----------------------------------------------------------------------------------


def thread_rate(signer: Signer, threads: int, seconds: float) -> float:
    """Signatures per second of ``threads`` threads sharing one Signer."""
    return threaded_rate(lambda: signer.sign(MESSAGE), threads, seconds)


def open_retrying(uri: str, attempts: int = 5) -> Signer:
    """open_signer, tried again after a failure: a process that opens the SoftHSM token while another one
    uses it has now and then been refused (TokenNotFound, or GeneralError listing tokens)."""
    from hsm import open_signer
    from hsm.errors import HsmError

    for _ in range(attempts - 1):
        try:
            return open_signer(uri)
        except HsmError as exc:
            print(f"# process {os.getpid()}: open_signer failed ({exc}); trying again", flush=True)
            time.sleep(0.2)
    return open_signer(uri)


def _process_signer(uri: str, seconds: float, start_at: float, out: mp.Queue[int]) -> None:
    signer = open_retrying(uri)
    signer.sign(MESSAGE)
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        signer.sign(MESSAGE)
        n += 1
    out.put(n)


def process_rate(uri: str, processes: int, seconds: float) -> float:
    """Signatures per second of ``processes`` spawned processes, each with its own Signer (PKCS#11 state
    must not cross a fork); SOFTHSM2_CONF comes with the environment."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[int] = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [
        ctx.Process(target=_process_signer, args=(uri, seconds, start_at, out)) for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    try:
        total = sum(out.get(timeout=seconds + 60) for _ in procs)
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return total / seconds


@dataclass
class RawRates:
    """Raw signing rates of one responder key, one value per round."""

    one: list[float] = field(default_factory=list)
    threads: list[float] = field(default_factory=list)
    processes: list[float] = field(default_factory=list)

    def reference(self) -> float:
        """As many signers as workers: the better of threads and processes."""
        return max(statistics.mean(self.threads), statistics.mean(self.processes))


def measure_raw(name: str, uri: str, workers: int, seconds: float, rates: RawRates) -> None:
    from hsm import open_signer

    signer = open_signer(uri)
    signer.sign(MESSAGE)
    rates.one.append(thread_rate(signer, 1, seconds))
    rates.threads.append(thread_rate(signer, workers, seconds))
    rates.processes.append(process_rate(uri, workers, seconds))
    say(
        f"raw Signer {name}: 1 thread {rates.one[-1]:,.0f}/s, {workers} threads {rates.threads[-1]:,.0f}/s, "
        f"{workers} processes {rates.processes[-1]:,.0f}/s"
    )


# -- processes ------------------------------------------------------------------------------------------


@contextmanager
def running(
    command: Sequence[str], log: Path, ready: Callable[[], bool], timeout: float = 120
) -> Iterator[int]:
    """Run ``command`` in its own process group until the block ends, then end the whole group; yields
    the group's id."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, process_group=0)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{command[0]} {command[1]} did not start (rc {proc.poll()}):\n{tail}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL after 15 s; then SIGKILL to whatever is left of the group.
    The whole group: ``openssl ocsp -multi`` ends on SIGTERM only once its children have ended."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def http_ok(url: str, body: bytes | None = None) -> bool:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclass(frozen=True)
class Server:
    url: str
    group: int
    """Its process group: every process of the server, for CPU accounting."""
    ours: bool


def group_cpu(group: int) -> float:
    """CPU seconds used so far by the processes of a group (and their reaped children)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == group:
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def our_server(corpus: Corpus, workers: int, log: Path) -> Iterator[Server]:
    command = [jlis(), "serve", "--home", str(corpus.home), "--host", HOST, "--port", str(PORT)]
    command += ["--workers", str(workers), "--no-presign"]
    with running(command, log, lambda: http_ok(f"{BASE_URL}/healthz")) as group:
        yield Server(BASE_URL, group, ours=True)


@contextmanager
def openssl_server(corpus: Corpus, responder: tuple[Path, Path], workers: int, log: Path) -> Iterator[Server]:
    command = ["openssl", "ocsp", "-index", str(corpus.directory / "index.txt"), "-port", str(OPENSSL_PORT)]
    command += ["-rsigner", str(responder[0]), "-rkey", str(responder[1]), "-CA", str(corpus.ca_pem)]
    command += ["-nmin", str(NEXT_UPDATE_MINUTES), "-multi", str(workers), "-ignore_err"]
    url = f"http://{HOST}:{OPENSSL_PORT}"
    probe = bytes.fromhex(corpus.post_file.read_text().split("\n", 1)[0])
    # a full request as the probe: a bare connect-and-close is what makes OpenSSL 3.0's server spin
    with running(command, log, lambda: http_ok(url + "/", probe)) as group:
        yield Server(url, group, ours=False)


ERROR_LINE = re.compile(r'^(ERROR|CRITICAL)|Traceback|error:|" 5\d\d |"status": ?5\d\d')
TRACE_LINE = re.compile(
    r"^(\s|Traceback|During handling|The above exception|[\w.]+(Error|Exception|Exit|Interrupt)\b|$)"
)
"""The lines of a traceback, after the log line that announces it."""


def server_errors(log: Path) -> list[str]:
    """What a server log reports as errors (ERROR lines with their tracebacks, 5xx in the access log),
    one text per event."""
    events: list[list[str]] = []
    inside = False
    with log.open(errors="replace") as lines:
        for line in lines:
            if inside and TRACE_LINE.match(line):
                events[-1].append(line.rstrip())
            elif ERROR_LINE.search(line):
                events.append([line.rstrip()])
                inside = True
            else:
                inside = False
    return ["\n".join(event) for event in events]


# -- correctness ----------------------------------------------------------------------------------------


def check(label: str, corpus: Corpus, get_url: Callable[[int], str], post_url: str) -> bytes:
    """One POST with a nonce through ``openssl ocsp`` and one GET (the path wrk sends) verified by it, for
    a good and a revoked certificate; SystemExit on any surprise. Returns the good GET response."""
    answers: dict[str, bytes] = {}
    for index, expected in ((corpus.good_index, "good"), (corpus.revoked_index, "revoked")):
        pem = corpus.pem(expected)
        common = ["-issuer", str(corpus.ca_pem), "-cert", str(pem), "-CAfile", str(corpus.chain_pem)]
        posted = openssl_text(["ocsp", *common, "-url", post_url, "-nonce"])
        expect(label, "POST", posted, f"{pem}: {expected}", nonce=True)
        with urllib.request.urlopen(get_url(index), timeout=10) as response:
            der: bytes = response.read()
        answer = corpus.directory / f"{label.split()[0]}-{expected}.der"
        answer.write_bytes(der)
        expect(label, "GET", openssl_text(["ocsp", *common, "-respin", str(answer)]), f"{pem}: {expected}")
        answers[expected] = der
    say(f"check {label}: POST+nonce and GET answer good and revoked, signatures verify")
    return answers["good"]


def openssl_text(args: Sequence[str]) -> str:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


def expect(label: str, method: str, output: str, status_line: str, *, nonce: bool = False) -> None:
    problems = [
        what
        for what, bad in (
            (f"no '{status_line}'", status_line not in output),
            ("signature not verified", "Response verify OK" not in output),
            ("nonce missing or wrong", nonce and ("nonce" in output.lower())),
        )
        if bad
    ]
    if problems:
        raise SystemExit(f"{label} {method}: {', '.join(problems)}:\n{output}")


# -- load -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One wrk run: what it counted, and what our server's /metrics counted meanwhile."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    """wrk's socket errors, timeouts and non-2xx/3xx statuses."""
    outcomes: dict[str, int] = field(default_factory=dict)
    """Ours only: answers by outcome (an OCSP error status is still HTTP 200: only here can it show)."""
    signatures: int = 0
    kept: int = 0
    """Ours only: answers from a kept (pre-signed) response."""
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    """CPU seconds used by wrk and by the server's processes during the run."""

    @property
    def failed(self) -> int:
        """Requests that did not get a good or revoked answer, as far as we can tell."""
        wrong = sum(n for outcome, n in self.outcomes.items() if outcome not in ("good", "revoked"))
        return sum(self.errors.values()) + wrong


def wrk(url: str, workload: Path, method: str, seconds: int, args: argparse.Namespace, group: int) -> Run:
    """One wrk run, with the CPU it and the server (process ``group``) used meanwhile."""
    script = workload.parent.parent / "cycle.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "5s"]
    command += ["-s", str(script), url, "--", str(workload), method, str(args.threads)]
    client, server = resource.getrusage(resource.RUSAGE_CHILDREN), group_cpu(group)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    server = group_cpu(group) - server
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = after.ru_utime + after.ru_stime - client.ru_utime - client.ru_stime
    found = re.search(r"^wrk-result (.*)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed (rc {result.returncode}):\n{result.stdout}\n{result.stderr}")
    requests, duration, p50, p99, *errors = (int(v) for v in found[1].split())
    names = ("connect", "read", "write", "status", "timeout")
    run = Run(requests, duration / 1e6, p50 / 1e3, p99 / 1e3, dict(zip(names, errors, strict=True)))
    return dataclasses.replace(run, client_cpu=client_cpu, server_cpu=server)


def metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("jlis_ocsp_") and "_bucket" not in line:
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def measured(server: Server, path: str, workload: Path, method: str, args: argparse.Namespace) -> Run:
    """The measured run; for our server after a warm-up, with its /metrics read around the run."""
    target = server.url + path
    if not server.ours:
        return wrk(target, workload, method, args.seconds, args, server.group)
    wrk(target, workload, method, max(2, args.seconds // 3), args, server.group)
    before = metrics(server.url)
    run = wrk(target, workload, method, args.seconds, args, server.group)
    after = metrics(server.url)
    delta = {k: int(after[k] - before.get(k, 0.0)) for k in after}
    outcomes: dict[str, int] = {}
    for key, count in delta.items():
        found = re.match(r'jlis_ocsp_requests_total\{method="\w+",outcome="(\w+)"\}', key)
        if found and count:
            outcomes[found[1]] = outcomes.get(found[1], 0) + count
    signatures, kept = delta.get("jlis_ocsp_signatures_total", 0), delta.get("jlis_ocsp_cache_hits_total", 0)
    return dataclasses.replace(run, outcomes=outcomes, signatures=signatures, kept=kept)


def describe(label: str, run: Run) -> None:
    errors = ", ".join(f"{k} {v:,}" for k, v in run.errors.items() if v) or "none"
    say(
        f"{label}: {run.requests:,} requests in {run.seconds:.1f} s = {run.requests / run.seconds:,.0f}/s, "
        f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms; wrk errors: {errors}"
    )
    say(
        f"    CPU: server {run.server_cpu / run.seconds:.2f} cores "
        f"({run.server_cpu / run.requests * 1e3:.3f} ms an answer), "
        f"wrk {run.client_cpu / run.seconds:.2f} cores"
    )
    if run.outcomes:
        say(f"    server: outcomes {run.outcomes}, signatures {run.signatures:,}, kept answers {run.kept:,}")


# -- the run --------------------------------------------------------------------------------------------


@dataclass
class Results:
    runs: dict[str, list[Run]] = field(default_factory=dict)
    raw: dict[str, RawRates] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, label: str, run: Run) -> None:
        self.runs.setdefault(label, []).append(run)
        describe(label, run)

    def rate(self, label: str) -> float:
        runs = self.runs[label]
        return sum(r.requests for r in runs) / sum(r.seconds for r in runs)


OURS_GET = "ours GET pre-signed (file key)"
OPENSSL_GET = "openssl GET (signs each)"
OPENSSL_POST = "openssl POST+nonce"


def ours_post(home: str) -> str:
    return f"ours POST+nonce ({home})"


@dataclass(frozen=True)
class Home:
    """A home to serve, and its responder's key (URI) and certificate (serial)."""

    corpus: Corpus
    key_uri: str
    responder_serial: int | None


def prepare(root: Path, args: argparse.Namespace) -> tuple[list[Home], tuple[Path, Path]]:
    """The homes (file keys, then SoftHSM) and OpenSSL's responder certificate and key."""
    pki, corpus = make_home(root, "file", "file", args)
    try:
        responder = openssl_responder(pki, corpus.directory)
    finally:
        pki.close()
    presign(corpus)
    homes = [open_home(corpus)]
    if not args.no_softhsm:
        pki, corpus = make_home(root, "softhsm", "softhsm", args)
        pki.close()
        homes.append(open_home(corpus))
    return homes, responder


def open_home(corpus: Corpus) -> Home:
    from pki import Pki

    pki = Pki.open(corpus.home)
    try:
        uri, certificate = responder_key(pki)
    finally:
        pki.close()
    return Home(corpus, uri, certificate.serial_number if certificate is not None else None)


def one_round(
    homes: list[Home], responder: tuple[Path, Path], root: Path, args: argparse.Namespace, results: Results
) -> None:
    for home in homes:
        rates = results.raw.setdefault(home.corpus.name, RawRates())
        measure_raw(home.corpus.name, home.key_uri, args.workers, args.raw_seconds, rates)
    for home in homes:
        ours(home, root, args, results, get=home.corpus.name == "file")
        if home.corpus.name == "file":
            theirs(home.corpus, responder, root, args, results)


def ours(home: Home, root: Path, args: argparse.Namespace, results: Results, *, get: bool) -> None:
    corpus, log = home.corpus, root / f"serve-{home.corpus.name}.log"
    label = f"ours ({corpus.name})"
    with our_server(corpus, args.workers, log) as server:
        url = server.url
        answer = check(label, corpus, lambda i: f"{url}/ocsp/{corpus.get_paths[i]}", f"{url}/ocsp")
        signer_certs = ocsp.load_der_ocsp_response(answer).certificates
        if not signer_certs or signer_certs[0].serial_number != home.responder_serial:
            raise SystemExit(f"{label}: the response is not signed by the key whose raw rate is measured")
        if get:
            results.add(OURS_GET, measured(server, "", corpus.get_file("/ocsp/"), "GET", args))
        results.add(ours_post(corpus.name), measured(server, "/ocsp", corpus.post_file, "POST", args))
    results.errors.setdefault(label, []).extend(server_errors(log))
    log.unlink()  # the access log: a line per request


def theirs(
    corpus: Corpus, responder: tuple[Path, Path], root: Path, args: argparse.Namespace, results: Results
) -> None:
    """OpenSSL, started afresh for the check and for each run."""
    log = root / "openssl.log"
    with openssl_server(corpus, responder, args.workers, log) as server:
        url = server.url
        check("openssl", corpus, lambda i: f"{url}/{corpus.get_paths[i]}", url + "/")
    with openssl_server(corpus, responder, args.workers, log) as server:
        results.add(OPENSSL_GET, measured(server, "", corpus.get_file("/"), "GET", args))
    with openssl_server(corpus, responder, args.workers, log) as server:
        results.add(OPENSSL_POST, measured(server, "/", corpus.post_file, "POST", args))
    results.errors.setdefault("openssl", []).extend(server_errors(log))
    log.unlink()


def report(results: Results, args: argparse.Namespace) -> None:
    print(
        f"\n{'configuration':32} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'failed':>7} {'CPU ms':>7}  "
        f"{'reference':28} {'ratio':>6}  goal"
    )
    order = [OURS_GET, OPENSSL_GET, *(ours_post(name) for name in results.raw), OPENSSL_POST]
    for label in order:
        runs = results.runs.get(label)
        if not runs:
            continue
        rate = results.rate(label)
        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        errors = sum(r.failed for r in runs)
        cpu_ms = sum(r.server_cpu for r in runs) / sum(r.requests for r in runs) * 1e3
        row = f"{label:32} {rate:8,.0f} {p50:7.2f} {p99:7.2f} {errors:7,} {cpu_ms:7.3f}"
        print(row + goal_text(label, rate, results, args))
    for name, raw in results.raw.items():
        print(
            f"{'raw Signer (' + name + ')':32} {statistics.mean(raw.one):8,.0f} {'':23} "
            f"{1e3 / statistics.mean(raw.one):7.3f}  1 thread; "
            f"{args.workers} threads {statistics.mean(raw.threads):,.0f}; "
            f"{args.workers} processes {statistics.mean(raw.processes):,.0f}"
        )
    print(
        "failed: wrk's socket errors, timeouts and non-2xx, and (ours) answers neither good nor revoked; "
        "CPU ms: server CPU time per answer (all its processes), per signature for the raw Signer"
    )
    for source, events in results.errors.items():
        print(f"server log errors, {source}: {len(events)}")
        kinds: dict[tuple[str, str], list[str]] = {}
        for event in events:  # the same failure again: counted, shown once
            lines = event.splitlines()
            kinds.setdefault((re.sub(r"\d+", "N", lines[0]), lines[-1]), []).append(event)
        for same in kinds.values():
            shown = same[0].splitlines()
            if len(shown) > 16:  # the log line, the first frames, the last frames and the exception
                shown = [*shown[:5], "...", *shown[-10:]]
            print(f"  {len(same)} x:\n    " + "\n    ".join(shown))


def goal_text(label: str, rate: float, results: Results, args: argparse.Namespace) -> str:
    """The reference, ratio and verdict of a row that has a goal."""
    homes = {ours_post(name): name for name in results.raw}
    if label == OURS_GET and OPENSSL_GET in results.runs:
        reference, name, goal = results.rate(OPENSSL_GET), "openssl GET", 3.0
    elif label in homes:
        reference, name, goal = results.raw[homes[label]].reference(), f"raw Signer x{args.workers}", 0.8
    else:
        return ""
    ratio = rate / reference
    verdict = "ok" if ratio >= goal else f"BELOW ({ratio / goal:.0%} of the goal)"
    return f"  {name + f' {reference:,.0f}/s':28} {ratio:6.2f}  >= {goal:g} {verdict}"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--certs", type=int, default=10_000, help="distinct certificates (and requests)")
    parser.add_argument("--revoked", type=float, default=0.1, help="share of them revoked")
    parser.add_argument("--seconds", type=int, default=10, help="each measured wrk run")
    parser.add_argument("--raw-seconds", type=float, default=2.0, help="each raw signing measurement")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every measurement, interleaved")
    parser.add_argument("--workers", type=int, default=2, help="server processes (jlis --workers, -multi)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--no-softhsm", action="store_true", help="skip the SoftHSM home")
    parser.add_argument("--seed", type=int, default=2026, help="which certificates are revoked")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers and clean up, as on Ctrl-C
    ensure_packages(list(PACKAGES))
    enter_private_network()
    print(
        f"# OCSP responder benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{args.certs:,} certificates of {CA_ID} (RSA-2048), {args.revoked:.0%} revoked; "
        f"wrk -t{args.threads} -c{args.connections}, {args.seconds} s a run, {args.rounds} round(s); "
        f"jlis serve --workers {args.workers}, openssl ocsp -multi {args.workers}",
        flush=True,
    )
    root = Path(tempfile.mkdtemp(prefix="jlis-bench-ocsp-"))
    try:
        homes, responder = prepare(root, args)
        results = Results()
        for number in range(1, args.rounds + 1):
            say(f"round {number} of {args.rounds}")
            one_round(homes, responder, root, args, results)
        report(results, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"# total {time.perf_counter() - _started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
