"""`jlis hsm ...`: generate keys inside a backend, list them, export public keys, sign, back up.

PINs and passphrases come from ``--pin-source FILE`` or ``JLIS_PKCS11_PIN`` / ``JLIS_KEY_PASSPHRASE``
(SO PINs: ``--so-pin-source`` or ``JLIS_PKCS11_SO_PIN``); never from an argument, never printed.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from cryptography.hazmat.primitives import serialization

from hsm import HashName, KeyInfo, KeyKind, SignatureAlgorithm, key_label, open_backend
from hsm.errors import HsmError, MechanismUnsupported
from jlis.cli.errors import fail, one_line_errors

E = TypeVar("E", bound=StrEnum)

hsm_app = typer.Typer(
    help="Key custody: generate, list, export public keys, sign and back up keys in a backend.",
    no_args_is_help=True,
)

UriOpt = Annotated[str, typer.Option("--uri", help="Backend: 'file:DIR' or 'pkcs11:token=LABEL[;...]'.")]
LabelOpt = Annotated[
    str | None, typer.Option("--label", help="Key label (optional when the URI names the key with object=).")
]
PinSourceOpt = Annotated[
    Path | None,
    typer.Option(
        "--pin-source",
        help="File holding the PIN or passphrase (else JLIS_PKCS11_PIN / JLIS_KEY_PASSPHRASE).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _choice(enum_type: type[E], value: str, what: str) -> E:
    try:
        return enum_type(value.lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum_type)
        raise MechanismUnsupported(value, f"unknown {what}; choose one of {choices}") from None


def _info_dict(info: KeyInfo) -> dict[str, object]:
    return {
        "label": info.label,
        "algo": info.kind.value if info.kind else None,
        "id": info.key_id.hex() if info.key_id else None,
        "sensitive": info.sensitive,
        "extractable": info.extractable,
        "backupable": info.backupable,
    }


@hsm_app.command("keygen")
@one_line_errors
def keygen(
    uri: UriOpt,
    algo: Annotated[
        str, typer.Option("--algo", help="Key type and size: rsa2048, rsa3072, rsa4096, p256, p384.")
    ],
    label: LabelOpt = None,
    backupable: Annotated[
        bool, typer.Option("--backupable", help="Extractable only wrapped under a trusted key (PKCS#11).")
    ] = False,
    pin_source: PinSourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a key pair inside the backend (PKCS#11: sensitive, sign-only, never extractable)."""
    kind = _choice(KeyKind, algo, "algorithm")
    label = key_label(uri, label)
    with open_backend(uri, pin_source=pin_source) as backend:
        signer = backend.generate(label, kind, backupable=backupable)
        info = next((i for i in backend.list_keys() if i.label == label), None)
        where = backend.description
    if as_json:
        doc = _info_dict(info) if info else {"label": label, "algo": kind.value}
        typer.echo(json.dumps({**doc, "backend": where, "signature_algorithm": signer.algorithm.name}))
    else:
        key_id = f" id {info.key_id.hex()}" if info and info.key_id else ""
        typer.echo(f"generated {kind.value} key {label!r} in {where}{key_id}")


@hsm_app.command("list")
@one_line_errors
def list_keys(uri: UriOpt, pin_source: PinSourceOpt = None, as_json: JsonOpt = False) -> None:
    """List the private keys of a backend (label, algorithm, id, protection)."""
    with open_backend(uri, pin_source=pin_source) as backend:
        infos = backend.list_keys()
    if as_json:
        typer.echo(json.dumps([_info_dict(i) for i in infos]))
        return
    for info in infos:
        flags = ",".join(
            name
            for name, on in (
                ("sensitive", info.sensitive),
                ("extractable", info.extractable),
                ("backupable", info.backupable),
            )
            if on
        )
        algo = info.kind.value if info.kind else "unsupported"
        key_id = info.key_id.hex() if info.key_id else "-"
        typer.echo(f"{info.label}\t{algo}\t{key_id}\t{flags or 'non-extractable'}")


@hsm_app.command("pubkey")
@one_line_errors
def pubkey(uri: UriOpt, label: LabelOpt = None, pin_source: PinSourceOpt = None) -> None:
    """Print a key's public key as a SubjectPublicKeyInfo PEM."""
    with open_backend(uri, pin_source=pin_source) as backend:
        public = backend.public_key(key_label(uri, label))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    typer.echo(pem.decode(), nl=False)


@hsm_app.command("sign")
@one_line_errors
def sign(
    uri: UriOpt,
    in_file: Annotated[Path, typer.Option("--in", help="File to sign.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the DER signature.")],
    label: LabelOpt = None,
    hash_name: Annotated[
        str | None, typer.Option("--hash", help="sha256, sha384 or sha512 (default: the key's).")
    ] = None,
    pss: Annotated[bool, typer.Option("--pss", help="RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys).")] = False,
    pin_source: PinSourceOpt = None,
) -> None:
    """Sign a file with a backend key; writes the raw signature (DER for ECDSA)."""
    chosen_hash = _choice(HashName, hash_name, "hash") if hash_name is not None else None
    data = in_file.read_bytes()
    with open_backend(uri, pin_source=pin_source) as backend:
        signer = backend.signer(key_label(uri, label))
        algorithm = SignatureAlgorithm.for_key(KeyKind.of(signer.public_key), chosen_hash, pss)
        signature = signer.with_algorithm(algorithm).sign(data)
    out_file.write_bytes(signature)
    typer.echo(f"signed {len(data)} bytes with {signer.label!r} ({algorithm.name}) -> {out_file}", err=True)


@hsm_app.command("wrap")
@one_line_errors
def wrap(
    uri: UriOpt,
    wrapping_key: Annotated[str, typer.Option("--wrapping-key", help="Label of the trusted wrapping key.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the wrapped key (JSON).")],
    label: LabelOpt = None,
    pin_source: PinSourceOpt = None,
) -> None:
    """Back up a backupable PKCS#11 key: wrapped in the token under a trusted key, never plain."""
    from hsm.p11 import Pkcs11Backend
    from hsm.p11_backup import wrap_key

    with open_backend(uri, pin_source=pin_source) as backend:
        if not isinstance(backend, Pkcs11Backend):
            raise fail("wrap needs a pkcs11: token (file: keys are already encrypted files)")
        wrapped = wrap_key(backend, key_label(uri, label), wrapping_key)
    out_file.write_bytes(wrapped.to_bytes())
    typer.echo(f"wrapped {wrapped.label!r} under {wrapping_key!r} -> {out_file}", err=True)


@hsm_app.command("unwrap")
@one_line_errors
def unwrap(
    uri: UriOpt,
    in_file: Annotated[Path, typer.Option("--in", help="Wrapped key file from 'jlis hsm wrap'.")],
    wrapping_key: Annotated[str, typer.Option("--wrapping-key", help="Label of the trusted wrapping key.")],
    label: Annotated[str | None, typer.Option("--label", help="New label (default: the original).")] = None,
    pin_source: PinSourceOpt = None,
) -> None:
    """Restore a wrapped key into a token that holds the same trusted wrapping key."""
    from hsm.p11 import Pkcs11Backend
    from hsm.p11_backup import WrappedKey, unwrap_key

    wrapped = WrappedKey.from_bytes(in_file.read_bytes())
    with open_backend(uri, pin_source=pin_source) as backend:
        if not isinstance(backend, Pkcs11Backend):
            raise fail("unwrap needs a pkcs11: token")
        signer = unwrap_key(backend, wrapped, wrapping_key, label=label)
    typer.echo(f"unwrapped {signer.label!r} ({KeyKind.of(signer.public_key).value}) into {uri}", err=True)


@hsm_app.command("share-wrapping-key")
@one_line_errors
def share_wrapping_key_cmd(
    source: Annotated[str, typer.Option("--source", help="pkcs11: URI of the token that creates the key.")],
    target: Annotated[str, typer.Option("--target", help="pkcs11: URI of the token that receives it.")],
    label: Annotated[str, typer.Option("--label", help="Label of the wrapping key in both tokens.")],
    source_so_pin: Annotated[
        Path | None,
        typer.Option("--source-so-pin-source", help="SO PIN file of the source (else JLIS_PKCS11_SO_PIN)."),
    ] = None,
    target_so_pin: Annotated[
        Path | None,
        typer.Option("--target-so-pin-source", help="SO PIN file of the target (else JLIS_PKCS11_SO_PIN)."),
    ] = None,
) -> None:
    """Key ceremony: one trusted AES wrapping key in two tokens, its value never outside them."""
    from hsm.p11_backup import TokenAdmin, share_wrapping_key

    with (
        TokenAdmin.open(source, so_pin_source=source_so_pin) as src,
        TokenAdmin.open(target, so_pin_source=target_so_pin) as dst,
    ):
        if src.where == dst.where:
            raise HsmError("source and target are the same token")
        share_wrapping_key(src, dst, label)
    typer.echo(f"trusted wrapping key {label!r} now in {src.where} and {dst.where}", err=True)
