"""`jlis cert show FILE`: what a certificate says, including each name attribute's string type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jlis.cli.errors import one_line_errors

cert_app = typer.Typer(help="Inspect certificates.", no_args_is_help=True)


@cert_app.command("show")
@one_line_errors
def show(
    file: Annotated[Path, typer.Argument(help="Certificate, PEM or DER.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a certificate's subject (with string types), issuer, serial, validity and extensions."""
    from pki.inspect import describe_certificate, load_certificate

    info = describe_certificate(load_certificate(file.read_bytes()))
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    for key in (
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "public_key",
        "signature_algorithm",
        "sha256_fingerprint",
    ):
        typer.echo(f"{key:20} {info[key]}")
    typer.echo("subject attributes:")
    for attribute in info["subject_attributes"]:
        typer.echo(f"  {attribute['attr']:14} {attribute['type']:16} {attribute['value']}")
    typer.echo("extensions:")
    for ext in info["extensions"]:
        critical = "critical " if ext["critical"] else ""
        typer.echo(f"  {ext['name']} ({critical}{ext['oid']}): {ext['value']}")
