"""`jlis hsm ...`: key custody commands (placeholder until the hsm CLI lands)."""

import typer

hsm_app = typer.Typer(help="Key custody: generate, list, export public keys and sign with backend keys.")
