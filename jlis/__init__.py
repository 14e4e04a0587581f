"""The front door: configuration, CLI (``jlis ...``) and ASGI app assembly.

Only this package knows every floor (hsm ← pki ← ocsp ← jpki, lgpki ← jlis); it mounts their routers and wires
their configuration, and holds no business rule of its own.
"""
