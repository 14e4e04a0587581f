"""RFC 6960 / RFC 5019 OCSP responder: response production, caching and client helpers."""

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
    "CertId",
    "MalformedRequest",
    "OcspError",
    "OcspRequest",
    "ResponseError",
    "ResponseStatus",
    "SingleStatus",
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
