"""Sign a file with a key that lives in a SoftHSM token, and verify the signature.

Run it as it is: it makes a private SoftHSM token in a temporary directory, generates a P-256 key inside
the token (sensitive, never extractable), signs a file through the Signer and checks the signature.
"""
# requires: softhsm

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

work = Path(tempfile.mkdtemp(prefix="jlis-example-"))
(work / "tokens").mkdir()
(work / "softhsm2.conf").write_text(f"directories.tokendir = {work / 'tokens'}\nobjectstore.backend = file\n")
os.environ["SOFTHSM2_CONF"] = str(work / "softhsm2.conf")  # before the module is loaded
subprocess.run(
    [
        "softhsm2-util",
        "--init-token",
        "--free",
        "--label",
        "example",
        "--pin",
        "246810",
        "--so-pin",
        "13579111",
    ],
    check=True,
    capture_output=True,
)
pin_file = work / "pin"
pin_file.write_text("246810\n")
pin_file.chmod(0o600)

from hsm import KeyKind, open_backend, verify_signature  # noqa: E402  (after SOFTHSM2_CONF is set)

document = work / "contract.txt"
document.write_text("甲と乙は、以下のとおり契約を締結する。\n")

with open_backend("pkcs11:token=example", pin_source=pin_file) as backend:
    signer = backend.generate("contract-signing", KeyKind.P256)
    signature = signer.sign(document.read_bytes())
    print(f"signed {document.name} with {signer.label!r} ({signer.algorithm.name}) in {backend.description}")
    for info in backend.list_keys():
        print(f"  key {info.label}: {info.kind}, sensitive={info.sensitive}, extractable={info.extractable}")

assert verify_signature(signer.public_key, signer.algorithm, document.read_bytes(), signature)
print("signature verified")
