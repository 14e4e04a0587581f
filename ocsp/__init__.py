"""RFC 6960 / RFC 5019 OCSP responder: response production, caching and client helpers."""
