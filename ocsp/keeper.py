"""Responses signed on a miss are written to the store in the background, in batches, so other responder
processes (and this one after a restart) answer them without signing again. Losing some on a crash only
costs signatures: the store's copy is a cache too."""

from __future__ import annotations

import logging
import queue
import threading

from pki.errors import PkiError
from pki.store import PresignedResponse, Store

log = logging.getLogger(__name__)


class Keeper:
    """A background writer of kept responses: ``keep`` never blocks, a full queue drops."""

    def __init__(
        self, store: Store, *, flush_every: float = 0.5, max_batch: int = 500, max_queued: int = 20_000
    ):
        self._store = store
        self._flush_every = flush_every
        self._max_batch = max_batch
        self._queue: queue.Queue[PresignedResponse | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self.kept = 0
        self.dropped = 0

    def keep(self, response: PresignedResponse) -> None:
        try:
            self._queue.put_nowait(response)
        except queue.Full:
            self.dropped += 1

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ocsp-keeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            batch: list[PresignedResponse] = []
            try:
                item = self._queue.get(timeout=self._flush_every)
            except queue.Empty:
                continue
            stop = item is None
            if item is not None:
                batch.append(item)
            while not stop and len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stop = item is None
                if item is not None:
                    batch.append(item)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[PresignedResponse]) -> int:
        if not batch:
            return 0
        try:
            kept = self._store.save_responses(batch)
        except PkiError as exc:
            log.warning("could not keep %d OCSP responses: %s", len(batch), exc)
            return 0
        self.kept += kept
        return kept
