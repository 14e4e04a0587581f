"""``jlis serve``: run the HTTP services: CA certificates and CRLs of the PKI in the home, health and docs."""

import dataclasses
import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jlis.cli.common import DEFAULT_HOME
from jlis.cli.errors import fail

if TYPE_CHECKING:
    from pki.runtime import Pki

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def prepare_home(home: Path) -> Path:
    """Create the state directory if missing, private to the service user (0700)."""
    home = home.expanduser().resolve()
    if not home.is_dir():
        try:
            home.mkdir(mode=0o700, parents=True)
            home.chmod(0o700)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            raise fail(f"cannot create home directory {home}: {exc.strerror or exc}") from None
    return home


def reason(exc: OSError) -> str:
    """The OS's short reason (``Address already in use``), without the context create_server appends."""
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return exc.strerror or str(exc)
    return os.strerror(exc.errno)


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before starting uvicorn, so 'address in use' is a clean error and not a log dump."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {reason(exc)}") from None


def base_url(sock: socket.socket) -> str:
    """The URL clients use, with the port actually bound (``--port 0`` picks a free one)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(url: str, home: Path) -> None:
    """Tell the operator where the service answers."""
    from rich.console import Console
    from rich.markup import escape

    from jlis.app import package_version

    console = Console(soft_wrap=True, highlight=False)  # soft_wrap: never split a URL across lines
    console.print(
        f"[bold]jlis-pki {package_version()}[/bold] serving on [bold cyan]{escape(url)}[/bold cyan]"
    )
    console.print(f"  health  {url}/healthz", markup=False)
    console.print(f"  docs    {url}/docs", markup=False)
    console.print(f"  home    {home}", markup=False)


def announce_pki(pki: "Pki", home: Path, url: str) -> None:
    """The CA certificates and CRLs being served, and commands to try against them."""
    print("  CAs (certificate, complete CRL):")
    for ca in pki.cas():
        print(f"    {ca.id:15} {ca.base_url}/ca/{ca.id}.cer  {ca.crl_url()}")
    if url != pki.definition.base_url:
        print(f"  note: certificates point to {pki.definition.base_url} (the URL this home was created for)")
    installed = Path(sys.executable).parent / "jlis"
    jlis = str(installed) if installed.exists() else "jlis"
    print("  try:")
    print(f"    curl -s {pki.definition.base_url}/crl/jpki-sign.crl | openssl crl -inform DER -noout -text")
    print(
        "    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=www.example.jp "
        "-addext subjectAltName=DNS:www.example.jp -keyout /tmp/key.pem -out /tmp/req.pem"
    )
    print(
        f"    jlis ca issue --home {home} --ca lgpki-app-sub --profile tls-server --csr /tmp/req.pem "
        f"--out /tmp/cert.pem"
    )
    print(f"    {jlis} ca revoke --home {home} --ca lgpki-app-sub --serial <hex> --reason keyCompromise")
    print(f"    {jlis} audit verify --home {home}")


def serve(
    home: Annotated[
        Path,
        typer.Option(envvar="JLIS_HOME", show_envvar=True, help="State directory (created 0700 if missing)."),
    ] = DEFAULT_HOME,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (0 picks a free port).")
    ] = DEFAULT_PORT,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes sharing the port (OCSP throughput).")
    ] = 1,
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            envvar="JLIS_REDIS_URL",
            show_envvar=True,
            help="Share cached OCSP responses between processes through Redis (redis://host:6379/0).",
        ),
    ] = None,
    presign: Annotated[
        bool, typer.Option(help="Pre-sign every valid certificate's OCSP response at start.")
    ] = True,
    ocsp_timeout: Annotated[
        float, typer.Option(min=0.01, help="Seconds an OCSP answer may take before tryLater.")
    ] = 5.0,
    max_request_bytes: Annotated[int, typer.Option(min=64, help="Largest OCSP request accepted.")] = 16384,
    access_log: Annotated[
        bool, typer.Option(help="Write the OCSP access log (JSON lines on stderr, no request bodies).")
    ] = True,
) -> None:
    """Serve the PKI (CA certificates, CRLs kept fresh, OCSP, /metrics, /healthz, /docs); initialises a
    new home first."""
    import uvicorn

    from hsm.errors import HsmError
    from jlis.app import SETTINGS_ENV, configure_logging, create_app, verifier_services
    from jpki.errors import JpkiError
    from ocsp.http import HttpSettings
    from ocsp.service import OcspSettings
    from pki.errors import PkiError
    from pki.runtime import ensure_pki

    home = prepare_home(home)
    sock = listen(host, port)
    url = base_url(sock)
    try:
        pki = ensure_pki(home, base_url=url)
        verifier_services(pki)  # the verifier tables and the fee file, checked before any worker starts
    except (PkiError, HsmError, JpkiError) as exc:
        sock.close()
        raise fail(exc.message) from None
    pki.recover()
    ocsp = OcspSettings(redis_url=redis, presign_at_start=presign)
    http = HttpSettings(max_request_bytes=max_request_bytes, timeout_seconds=ocsp_timeout)
    announce(url, home)
    announce_pki(pki, home, url)
    configure_logging(access_log=access_log)
    if workers == 1:
        app = create_app(pki, ocsp=ocsp, http=http)
        server = uvicorn.Server(uvicorn.Config(app, access_log=False))  # OCSP has its own access log
        server.run(sockets=[sock])
        if not server.started:
            raise fail("the server did not start (see the log above)", code=3)
        return
    pki.close()
    settings = {"ocsp": dataclasses.asdict(ocsp), "http": dataclasses.asdict(http), "access_log": access_log}
    os.environ.update({"JLIS_HOME": str(home), SETTINGS_ENV: json.dumps(settings)})
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_directory(home))
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("jlis.app:app_from_environment", factory=True, workers=workers, access_log=False)
    Multiprocess(config, sockets=[sock]).run()


def metrics_directory(home: Path) -> Path:
    """A fresh directory where worker processes write their Prometheus values (multiprocess mode)."""
    import shutil

    directory = home / "run" / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    return directory
