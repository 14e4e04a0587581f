"""``jlis ...``: the command-line front door.

Module-level imports stay light so that ``jlis --help`` starts fast; heavy dependencies (uvicorn, FastAPI)
are imported inside the commands that need them.
"""

import typer

from jlis.cli.cert import cert_app
from jlis.cli.hsm import hsm_app
from jlis.cli.jpki_cmds import jpki_app
from jlis.cli.ocsp_cmds import ocsp_app
from jlis.cli.pki_cmds import audit_app, ca_app, crl_app, init
from jlis.cli.serve import serve
from jlis.cli.verify_cmds import verify, verify_path

app = typer.Typer(
    name="jlis",
    help="jlis-pki: JPKI and LGPKI certification authorities, OCSP, CRLs and key custody.",
    no_args_is_help=True,
    add_completion=False,
    # Never print frames with their local variables: a PIN or passphrase could be one of them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(hsm_app, name="hsm")
app.add_typer(cert_app, name="cert")
app.add_typer(ca_app, name="ca")
app.add_typer(crl_app, name="crl")
app.add_typer(audit_app, name="audit")
app.add_typer(ocsp_app, name="ocsp")
app.add_typer(jpki_app, name="jpki")
app.command("init")(init)
app.command()(serve)
app.command("verify")(verify)
app.command("verify-path")(verify_path)


def main() -> None:
    """Console-script entry point (``jlis = "jlis.cli:main"``)."""
    app(prog_name="jlis")
