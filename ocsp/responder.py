"""The OCSP responder: one for every CA of the PKI, answering from kept responses where it can and signing
where it must (RFC 6960, RFC 5019).

Where an answer comes from, fastest first:

1. the in-process cache (``cached``, on the event loop: no I/O at all);
2. the shared cache (Redis, when configured) and the responses kept in the store (pre-signed by
   :mod:`ocsp.presign`, or signed earlier on a miss);
3. a signature made now: for a miss, for several certificates in one request, and for a nonce when the
   CA's policy answers nonces (else the nonce is ignored, RFC 8954 §2.2).

A revocation reaches every layer at once: the store deletes the certificate's kept responses in the
revocation's own transaction, and :mod:`ocsp.watcher` drops cached ones in every responder process as soon
as it sees the CA's revocation counter move. Nothing a client sends can make the responder fail: bad input
is ``malformedRequest``, CAs we do not serve (or may not answer for this requester) ``unauthorized``, an
unreachable store or key ``tryLater``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hsm import HsmError
from ocsp.access import NoVerifiers, VerifierCheck
from ocsp.answer import Answer, Outcome, Requester
from ocsp.cache import CachedResponse, ResponseCache
from ocsp.credentials import Credentials
from ocsp.errors import MalformedRequest
from ocsp.issuers import IssuerIndex, ServedCa
from ocsp.keeper import Keeper
from ocsp.request import CertId, OcspRequest, parse_request
from ocsp.response import (
    ResponseStatus,
    SingleStatus,
    encode_response_data,
    encode_single,
    error_response,
    nonce_extension,
    sign_response,
)
from pki.definition import OcspAccess
from pki.errors import PkiError
from pki.home import KeyMode
from pki.model import CertStatus
from pki.runtime import Pki
from pki.store import PresignedResponse, StatusRow

log = logging.getLogger(__name__)

MALFORMED = Answer(error_response(ResponseStatus.malformed_request), Outcome.malformed)
UNAUTHORIZED = Answer(error_response(ResponseStatus.unauthorized), Outcome.unauthorized)
TRY_LATER = Answer(error_response(ResponseStatus.try_later), Outcome.try_later)
INTERNAL_ERROR = Answer(error_response(ResponseStatus.internal_error), Outcome.internal_error)

_ISSUED = (CertStatus.good, CertStatus.revoked, CertStatus.on_hold)


INDEX_RECHECK_SECONDS = 1.0
"""How often, at most, a CertID naming no served generation makes the responder look for new ones."""


@dataclass(frozen=True, slots=True)
class ResponderSettings:
    max_certificates: int = 10
    """Certificates answered in one request; more is ``malformedRequest``."""


class Responder:
    """Answers OCSP requests for every CA of a PKI (implements ``ocsp.answer.OcspService``). Thread-safe."""

    def __init__(
        self,
        pki: Pki,
        cache: ResponseCache,
        *,
        verifiers: VerifierCheck | None = None,
        settings: ResponderSettings | None = None,
        keeper: Keeper | None = None,
    ) -> None:
        self.pki = pki
        self.cache = cache
        self.settings = settings or ResponderSettings()
        self.verifiers: VerifierCheck = verifiers or NoVerifiers()
        self.index = _index(pki)
        self._generations = pki.store.generation_count()
        self._index_checked = time.monotonic()
        self._index_lock = threading.Lock()
        self.credentials = Credentials(pki)
        self.keeper = keeper
        self._last_parse = threading.local()
        self._local = (
            pki.config.keys is KeyMode.file and pki.store.url.startswith("sqlite") and not cache.shared
        )

    def _find(self, cert_id: CertId) -> ServedCa | None:
        """The served generation a CertID names; on a miss, the index may be stale (a key rollover, maybe
        in another process): it is rebuilt when the store has generations it lacks."""
        found = self.index.find(cert_id)
        if found is None and self._refresh_index():
            found = self.index.find(cert_id)
        return found

    def _refresh_index(self) -> bool:
        """Rebuild the index if the store has new CA generations; looks at most once a second."""
        now = time.monotonic()
        if now - self._index_checked < INDEX_RECHECK_SECONDS:
            return False
        with self._index_lock:
            if now - self._index_checked < INDEX_RECHECK_SECONDS:
                return False
            self._index_checked = now
            try:
                count = self.pki.store.generation_count()
                if count == self._generations:
                    return False
                self.pki.forget_cas()
                self.index, self._generations = _index(self.pki), count
            except PkiError as exc:
                log.warning("could not reload the CA generations: %s", exc)
                return False
        log.info("serving %d CA generations after a key rollover", count)
        return True

    @property
    def local(self) -> bool:
        """No answer can wait on the network: SQLite, software keys, no Redis (``OcspService.local``)."""
        return self._local

    # -- OcspService ---------------------------------------------------------------------------------------

    def cached(self, request_der: bytes, requester: Requester) -> Answer | None:
        """From the in-process cache only (or an answer needing nothing: malformed, unauthorized)."""
        try:
            request = self._parse(request_der)
        except MalformedRequest:
            return MALFORMED
        if len(request.cert_ids) != 1:
            return None
        cert_id = request.cert_ids[0]
        ca = self._find(cert_id)
        if ca is None:
            return UNAUTHORIZED
        if ca.policy.access is not OcspAccess.public or (request.nonce is not None and ca.policy.nonce):
            return None
        hit = self.cache.get_local(ca.ca_id, cert_id.serial, cert_id.der)
        return None if hit is None else _from_cache(ca, cert_id.der, hit)

    def answer(self, request_der: bytes, requester: Requester) -> Answer:
        """The full answer; never raises."""
        try:
            return self._answer(request_der, requester)
        except MalformedRequest:
            return MALFORMED
        except (PkiError, HsmError) as exc:  # the store or a key is unreachable: the client may retry
            log.warning("OCSP answer deferred (tryLater): %s", exc)
            return TRY_LATER
        except Exception:  # a bug must cost one response, never the server
            log.exception("OCSP answer failed")
            return INTERNAL_ERROR

    def _parse(self, request_der: bytes) -> OcspRequest:
        """Parse a request once: ``answer`` after a ``cached`` miss gets the same bytes object on the same
        thread (the HTTP layer's order), so the parse ``cached`` made is reused."""
        last = getattr(self._last_parse, "value", None)
        if last is not None and last[0] is request_der:
            return last[1]  # type: ignore[no-any-return]
        request = parse_request(request_der, max_certs=self.settings.max_certificates)
        self._last_parse.value = (request_der, request)
        return request

    # -- answering -----------------------------------------------------------------------------------------

    def _answer(self, request_der: bytes, requester: Requester) -> Answer:
        request = self._parse(request_der)
        ca = self._authority(request, requester)
        if ca is None:
            return UNAUTHORIZED
        nonce = request.nonce if ca.policy.nonce else None
        if len(request.cert_ids) == 1 and nonce is None:
            found = self._kept(ca, request.cert_ids[0])
            if found is not None:
                return found
        statuses = [self.pki.store.status_at(ca.ca_id, cert_id.serial) for cert_id in request.cert_ids]
        return self._sign(
            ca, request, [status for status, _ in statuses], [seq for _, seq in statuses], nonce
        )

    def _authority(self, request: OcspRequest, requester: Requester) -> ServedCa | None:
        """The one CA every CertID names, if this requester may ask about it (else None: unauthorized).
        One response has one signer, so CertIDs of several CAs in one request are refused too."""
        cas = {self._find(cert_id) for cert_id in request.cert_ids}
        if len(cas) != 1:
            return None
        ca = cas.pop()
        if ca is None:
            return None
        if ca.policy.access is OcspAccess.registered and not self.verifiers.allows(requester, ca.ca_id):
            return None
        return ca

    def _kept(self, ca: ServedCa, cert_id: CertId) -> Answer | None:
        """A cached (shared cache) or kept (store) response still before its nextUpdate."""
        hit = self.cache.get(ca.ca_id, cert_id.serial, cert_id.der)
        if hit is not None:
            return _from_cache(ca, cert_id.der, hit)
        kept = self.pki.store.presigned_response(ca.ca_id, cert_id.serial, cert_id.der)
        if kept is None or kept.next_update <= self.pki.clock.now():
            return None
        cached = CachedResponse(kept.der, kept.this_update, kept.next_update, kept.produced_at, kept.seq)
        self.cache.put(ca.ca_id, cert_id.serial, cert_id.der, cached)
        return _from_cache(ca, cert_id.der, cached)

    def _sign(
        self,
        ca: ServedCa,
        request: OcspRequest,
        statuses: Sequence[StatusRow | None],
        seqs: Sequence[int],
        nonce: bytes | None,
    ) -> Answer:
        now = self.pki.clock.now()
        next_update = now + ca.policy.next_update
        singles = [
            encode_single(single_status(cert_id.der, status, now, next_update))
            for cert_id, status in zip(request.cert_ids, statuses, strict=True)
        ]
        credential = self.credentials.for_ca(ca)
        extensions = [nonce_extension(nonce)] if nonce is not None else []
        data = encode_response_data(credential.key_hash, now, singles, extensions)
        der = sign_response(credential.signer, data, credential.certs_der, verify=nonce is None)
        if len(statuses) == 1 and nonce is None and statuses[0] is not None and statuses[0].status in _ISSUED:
            self._keep(
                ca, request.cert_ids[0], statuses[0], CachedResponse(der, now, next_update, now, seqs[0])
            )
        return Answer(
            der,
            _outcome(statuses),
            cacheable=nonce is None and all(s is not None and s.status in _ISSUED for s in statuses),
            this_update=now,
            next_update=next_update,
            produced_at=now,
            ca_id=ca.ca_id,
            certificates=len(statuses),
            signatures=1,
        )

    def _keep(self, ca: ServedCa, cert_id: CertId, status: StatusRow, response: CachedResponse) -> None:
        """Cache a response signed on a miss, and have the keeper store it for other processes."""
        if not self.cache.put(ca.ca_id, cert_id.serial, cert_id.der, response):
            return  # a revocation overtook it
        if self.keeper is not None:
            self.keeper.keep(
                PresignedResponse(
                    ca.ca_id,
                    cert_id.serial,
                    cert_id.der,
                    status.status,
                    response.der,
                    response.this_update,
                    response.next_update,
                    response.produced_at,
                    response.seq,
                )
            )


def single_status(
    cert_id_der: bytes, status: StatusRow | None, now: dt.datetime, next_update: dt.datetime
) -> SingleStatus:
    """The SingleResponse content for a stored status: never issued (or never completed) is unknown, a hold
    is revoked with certificateHold (RFC 6960 §2.2)."""
    if status is None or status.status not in _ISSUED:
        return SingleStatus(cert_id_der, "unknown", None, None, now, next_update)
    if status.status is CertStatus.good:
        return SingleStatus(cert_id_der, "good", None, None, now, next_update)
    assert status.revoked_at is not None and status.reason is not None
    return SingleStatus(cert_id_der, "revoked", status.revoked_at, status.reason.code, now, next_update)


def _outcome(statuses: Sequence[StatusRow | None]) -> Outcome:
    if len(statuses) != 1:
        return Outcome.several
    status = statuses[0]
    if status is None or status.status not in _ISSUED:
        return Outcome.unknown
    return Outcome.good if status.status is CertStatus.good else Outcome.revoked


_CERT_STATUS_TAGS = {0x80: Outcome.good, 0xA1: Outcome.revoked}
"""certStatus right after the CertID in a SingleResponse: good [0] IMPLICIT NULL, revoked [1] (RFC 6960)."""


def _from_cache(ca: ServedCa, cert_id_der: bytes, hit: CachedResponse) -> Answer:
    at = hit.der.find(cert_id_der) + len(cert_id_der)
    return Answer(
        hit.der,
        _CERT_STATUS_TAGS.get(hit.der[at], Outcome.unknown) if at < len(hit.der) else Outcome.unknown,
        cacheable=True,
        this_update=hit.this_update,
        next_update=hit.next_update,
        produced_at=hit.produced_at,
        ca_id=ca.ca_id,
        certificates=1,
        cache_hit=True,
    )


def _index(pki: Pki) -> IssuerIndex:
    """Every generation of every CA (a CA's older keys still answer for what they issued)."""
    return IssuerIndex(
        ServedCa.of(ca.id, generation.certificate, ca.definition.ocsp)
        for ca in pki.cas()
        for generation in pki.generations(ca.id)
    )
