"""Loading a PKCS#11 module once per process, thread-safe, and mapping its errors to HsmError.

python-pkcs11 calls ``C_Initialize(NULL)``, which tells the module the application is single-threaded;
SoftHSM then switches its internal mutexes off, and two threads signing on two sessions can corrupt its
state. We finalize and initialize the module again with ``CKF_OS_LOCKING_OK`` (PKCS#11 v2.40 §5.4) so the
module locks for itself, and only then let sessions run in parallel (python-pkcs11 releases the GIL
around every C_* call).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pkcs11
import pkcs11.exceptions as p11e

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as P11Lib  # noqa: N812  (a type alias)

from hsm.errors import (
    BackendFailure,
    HsmError,
    KeyNotExtractable,
    MechanismUnsupported,
    PinIncorrect,
    PinLocked,
    TokenBusy,
    TokenNotFound,
)

MODULE_ENV = "JLIS_PKCS11_MODULE"
"""Environment variable naming the PKCS#11 module when the URI has no ``module-path``."""

SOFTHSM_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)

_CKF_OS_LOCKING_OK = 0x00000002
_CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191


class _InitArgs(ctypes.Structure):
    _fields_ = (
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    )


_lock = threading.Lock()
_modules: dict[str, tuple[P11Lib, ctypes.CDLL, int]] = {}


def default_module(environ: Mapping[str, str] | None = None) -> str | None:
    """The module from ``JLIS_PKCS11_MODULE``, else SoftHSM's where installed, else None."""
    env = os.environ if environ is None else environ
    if env.get(MODULE_ENV):
        return env[MODULE_ENV]
    return next((p for p in SOFTHSM_PATHS if Path(p).exists()), None)


def load_module(path: str) -> P11Lib:
    """The python-pkcs11 library object for a module, initialised once per process with OS locking."""
    pid = os.getpid()
    with _lock:
        cached = _modules.get(path)
        if cached is not None and cached[2] == pid:
            return cached[0]
        if not Path(path).exists():
            raise TokenNotFound(f"PKCS#11 module {path} (file does not exist)")
        try:
            lib = pkcs11.lib(path)
            lib.finalize()
            handle = ctypes.CDLL(path)
        except (p11e.PKCS11Error, OSError) as exc:
            raise TokenNotFound(f"PKCS#11 module {path} ({type(exc).__name__})") from exc
        args = _InitArgs(None, None, None, None, _CKF_OS_LOCKING_OK, None)
        rv = handle.C_Initialize(ctypes.byref(args))
        if rv not in (0, _CKR_CRYPTOKI_ALREADY_INITIALIZED):
            raise BackendFailure(f"initialising PKCS#11 module {path}", f"CKR 0x{rv:x}")
        _modules[path] = (lib, handle, pid)
        return lib


# python-pkcs11 exception class -> how we report it. Looked up by exact class, then by base classes.
def translate(exc: BaseException, *, where: str, operation: str) -> HsmError:
    """Map a python-pkcs11 exception to the HsmError a user can act on. Never includes a PIN."""
    if isinstance(exc, HsmError):
        return exc
    if isinstance(exc, p11e.PinIncorrect | p11e.PinInvalid | p11e.PinLenRange):
        return PinIncorrect(where)
    if isinstance(exc, p11e.PinLocked | p11e.PinExpired):
        return PinLocked(where)
    if isinstance(
        exc, p11e.TokenNotPresent | p11e.TokenNotRecognised | p11e.NoSuchToken | p11e.SlotIDInvalid
    ):
        return TokenNotFound(where)
    if isinstance(exc, p11e.MechanismInvalid | p11e.MechanismParamInvalid | p11e.KeyTypeInconsistent):
        return MechanismUnsupported(operation, f"refused by {where}")
    if isinstance(exc, p11e.KeySizeRange | p11e.FunctionNotSupported):
        return MechanismUnsupported(operation, f"refused by {where}")
    if isinstance(exc, p11e.SessionCount | p11e.OperationActive | p11e.DeviceMemory | p11e.HostMemory):
        return TokenBusy(where, type(exc).__name__)
    if isinstance(exc, p11e.KeyUnextractable):
        return KeyNotExtractable(operation, "it was not generated as backupable (it is never extractable)")
    if isinstance(exc, p11e.KeyNotWrappable):
        return KeyNotExtractable(operation, "the wrapping key is not trusted by the token")
    return BackendFailure(f"{operation} on {where}", type(exc).__name__)
