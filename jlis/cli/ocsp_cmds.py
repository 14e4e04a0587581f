"""`jlis ocsp ...`: the OCSP responder's offline work."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from jlis.cli.common import DEFAULT_HOME, HomeOpt, JsonOpt, opened
from jlis.cli.errors import fail, one_line_errors

ocsp_app = typer.Typer(help="The OCSP responder: pre-signed responses.", no_args_is_help=True)


@ocsp_app.command("presign")
@one_line_errors
def presign(
    home: HomeOpt = DEFAULT_HOME,
    ca: Annotated[str | None, typer.Option("--ca", help="Only this CA (default: every CA).")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Signatures made at once.")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Sign a fresh OCSP response for every valid certificate and keep it in the store (what the running
    responders' refresher does in the background), so responders answer without signing."""
    from ocsp.presign import Presigner
    from ocsp.service import OcspRuntime, OcspSettings

    with opened(home) as pki:
        runtime = OcspRuntime(pki, OcspSettings(presign_at_start=False, sign_threads=threads))
        if ca is not None and ca not in runtime.responder.index.cas:
            raise fail(f"unknown CA {ca!r}; see `jlis ca list`")
        report = Presigner(runtime.responder, threads=threads).presign(ca)
        runtime.cache.close()
    if as_json:
        typer.echo(json.dumps({"signed": report.signed, "kept": report.kept}))
        return
    for ca_id, count in report.signed.items():
        typer.echo(f"{ca_id:16} {count} responses signed")
    typer.echo(f"{report.kept} kept in the store")
