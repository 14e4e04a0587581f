"""The PKI home directory: where ``jlis init`` puts the database, keys, secrets and the effective definition.

Layout (everything private to the owner)::

    HOME/config.toml      store URL, key mode, secret files          (0600)
    HOME/pki.toml         the PKI definition in force, key URIs filled in
    HOME/pki.db           SQLite store (embedded default)
    HOME/keys/            file: keys, encrypted PKCS#8               (0700, files 0600)
    HOME/softhsm/         SoftHSM tokens and softhsm2.conf when --keys softhsm
    HOME/secrets/         generated passphrase / PIN files           (0700, files 0600)
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pki.errors import PkiError
from pki.profile.schema import load_table

CONFIG = "config.toml"
DEFINITION = "pki.toml"
SOFTHSM_TOKEN = "jlis-ca"


class KeyMode(enum.StrEnum):
    file = "file"
    softhsm = "softhsm"


class HomeError(PkiError):
    """The home directory is missing, not initialised, or unusable."""


@dataclass(frozen=True, slots=True)
class HomeConfig:
    """What config.toml says."""

    home: Path
    store_url: str
    keys: KeyMode
    secret_file: Path
    """Passphrase of file: keys, or the SoftHSM user PIN."""
    base_url: str | None = None
    """Overrides the definition's base_url (``jlis init --base-url``, or the address ``jlis serve`` bound)."""

    @property
    def definition_path(self) -> Path:
        return self.home / DEFINITION

    @property
    def softhsm_conf(self) -> Path:
        return self.home / "softhsm" / "softhsm2.conf"

    def key_uri(self, label: str) -> str:
        """Where the key with this label lives in this home."""
        if self.keys is KeyMode.file:
            return f"file:{self.home / 'keys'}?object={label}&pin-source={self.secret_file}"
        return f"pkcs11:token={SOFTHSM_TOKEN};object={label}?pin-source={self.secret_file}"

    def activate(self) -> None:
        """Point SoftHSM at this home's tokens (before the PKCS#11 module is first loaded): the home's own
        configuration wins over an inherited SOFTHSM2_CONF, which would name someone else's tokens."""
        if self.keys is KeyMode.softhsm:
            os.environ["SOFTHSM2_CONF"] = str(self.softhsm_conf)


def read_config(home: Path) -> HomeConfig:
    """The config of an initialised home; HomeError when ``jlis init`` has not run there."""
    path = home / CONFIG
    if not path.exists():
        raise HomeError(f"{home} is not an initialised PKI home (run: jlis init --home {home})")
    root = load_table(path)
    root.expect("store", "keys", "pki")
    store, keys, pki = root.table("store"), root.table("keys"), root.opt_table("pki")
    store.expect("url")
    keys.expect("mode", "secret_file")
    if pki is not None:
        pki.expect("base_url")
    return HomeConfig(
        home=home,
        store_url=store.string("url"),
        keys=KeyMode(keys.choice("mode", [mode.value for mode in KeyMode])),
        secret_file=home / keys.string("secret_file"),
        base_url=pki.opt_string("base_url") if pki is not None else None,
    )


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def _private_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)


def create_home(
    home: Path, *, keys: KeyMode, store_url: str | None, base_url: str | None = None
) -> HomeConfig:
    """Lay out a new home: private directories, a generated secret, config.toml. Refuses an existing one."""
    if (home / CONFIG).exists():
        raise HomeError(f"{home} is already initialised")
    for sub in (home, home / "secrets", home / "keys"):
        _private_dir(sub)
    secret = home / "secrets" / ("keys.pass" if keys is KeyMode.file else "token.pin")
    _private_file(secret, secrets.token_urlsafe(24) + "\n")
    url = store_url or f"sqlite:///{(home / 'pki.db').resolve()}"
    config = HomeConfig(home, url, keys, secret, base_url)
    if keys is KeyMode.softhsm:
        _init_softhsm(config)
    # JSON string escapes are valid TOML basic-string escapes: paths with quotes stay well-formed.
    text = (
        f"[store]\nurl = {json.dumps(url)}\n\n[keys]\nmode = {json.dumps(keys.value)}\n"
        f"secret_file = {json.dumps(str(secret.relative_to(home)))}\n"
        + (f"\n[pki]\nbase_url = {json.dumps(base_url.rstrip('/'))}\n" if base_url else "")
    )
    _private_file(home / CONFIG, text)
    return config


def _init_softhsm(config: HomeConfig) -> None:
    """A SoftHSM token private to this home, its user PIN the generated secret, its SO PIN another one."""
    tokens = config.home / "softhsm" / "tokens"
    _private_dir(tokens)
    _private_file(
        config.softhsm_conf, f"directories.tokendir = {tokens.resolve()}\nobjectstore.backend = file\n"
    )
    so_pin = config.home / "secrets" / "token.so-pin"
    _private_file(so_pin, secrets.token_urlsafe(18) + "\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(config.softhsm_conf)}
    pin = config.secret_file.read_text().strip()
    try:
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                SOFTHSM_TOKEN,
                "--pin",
                pin,
                "--so-pin",
                so_pin.read_text().strip(),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
    except FileNotFoundError:
        raise HomeError("--keys softhsm needs softhsm2-util (apt-get install softhsm2)") from None
    except subprocess.CalledProcessError as exc:
        raise HomeError(f"softhsm2-util could not create the token: {exc.stderr.decode().strip()}") from None
