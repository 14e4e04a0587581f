"""The PKI core: names, profiles, issuance, certificate store, revocation, CRLs, audit log.

Knows nothing about JPKI or LGPKI; signs only through :mod:`hsm` Signers.
"""
