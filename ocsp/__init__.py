"""RFC 6960 / RFC 5019 OCSP responder: response production, caching and client helpers."""

from ocsp.answer import Answer, OcspService, Outcome, Requester
from ocsp.cache import CachedResponse, CacheStats, ResponseCache
from ocsp.errors import MalformedRequest, OcspError, ResponseError
from ocsp.request import CertId, OcspRequest, parse_request
from ocsp.response import (
    ResponseStatus,
    SingleStatus,
    encode_basic,
    encode_response_data,
    encode_single,
    encode_successful,
    error_response,
    nonce_extension,
    responder_key_hash,
    sign_response,
)

__all__ = [
    "Answer",
    "CacheStats",
    "CachedResponse",
    "CertId",
    "MalformedRequest",
    "OcspError",
    "OcspRequest",
    "OcspRuntime",
    "OcspService",
    "OcspSettings",
    "Outcome",
    "Presigner",
    "Requester",
    "Responder",
    "ResponderSettings",
    "ResponseCache",
    "ResponseError",
    "ResponseStatus",
    "SingleStatus",
    "VerifierCheck",
    "encode_basic",
    "encode_response_data",
    "encode_single",
    "encode_successful",
    "error_response",
    "nonce_extension",
    "parse_request",
    "responder_key_hash",
    "sign_response",
]

# The responder stack imports pki (the floor below); keep these after the codec names above.
from ocsp.access import VerifierCheck
from ocsp.presign import Presigner
from ocsp.responder import Responder, ResponderSettings
from ocsp.service import OcspRuntime, OcspSettings
