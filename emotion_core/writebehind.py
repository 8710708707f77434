"""The write-behind queue of the emotion log: provisional session ids, batching and retry.

Callers queue writes and never wait on the database. A writer thread gathers what is queued for
`BATCH_INTERVAL_S` and hands it to `store(batch, ids)` as one batch, which stores it in one
transaction or raises `SQLAlchemyError` (nothing stored). While the database refuses, the
batch stays queued, `last_error` says why and the writer retries every `RETRY_INTERVAL_S`.

A session started while the database refuses gets a provisional (negative) id; `ids` maps it to
the stored id once its row is written, and every later write of that session uses the stored id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from .db import reason

logger = logging.getLogger(__name__)

BATCH_INTERVAL_S = 0.5
"""Queued writes are gathered this long into one transaction."""
RETRY_INTERVAL_S = 2.0
"""Pause between attempts while the database refuses writes."""


@dataclass(frozen=True)
class Observation:
    """One counted emotion of one person at one time (unix seconds)."""

    timestamp: float
    person: str
    emotion: str
    probability: float


@dataclass(eq=False)
class NewSession:
    """Create a session; `key` is its provisional id."""

    key: int
    started_at: float
    model: str | None
    settings: dict

    def values(self) -> dict:
        """The column values of the session row."""
        return {"started_at": self.started_at, "model": self.model, "settings": self.settings}


@dataclass(eq=False)
class Rows:
    """Observations of session `key`."""

    key: int
    rows: list[Observation] = field(default_factory=list)


@dataclass(eq=False)
class End:
    """The end time and frozen final scores of session `key`."""

    key: int
    ended_at: float
    final: dict


Op = NewSession | Rows | End


@dataclass
class StoredBatch:
    """What `store` reports back: ids of sessions created, and sessions found deleted."""

    ids: dict[int, int]  # provisional key -> stored id, for every NewSession of the batch
    deleted: set[int]  # stored ids the batch referred to that no longer exist (deleted elsewhere)


StoreBatch = Callable[[list[Op], dict[int, int]], StoredBatch]


class WriteBehind:
    """Queued writes stored by a writer thread through `store`; see the module docstring."""

    def __init__(self, store: StoreBatch, name: str = "emotion-log-writer") -> None:
        self._store = store
        self._cond = threading.Condition()
        self._pending: list[Op] = []
        self._ids: dict[int, int] = {}  # provisional key -> stored id
        self._deleted: set[int] = set()  # keys and stored ids of sessions deleted meanwhile
        self._next_key = -1
        self._error: str | None = None
        self._hurry = False
        self._closing = False
        self._paused = threading.Lock()  # held by callers that change the database around the writer
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- queueing ----------------------------------------------------------------------------

    def provisional(self, op: NewSession) -> int:
        """Queue a session the database refused to create now; return its provisional id."""
        with self._cond:
            op.key = self._next_key
            self._next_key -= 1
            self._pending.append(op)
            self._cond.notify_all()
        return op.key

    def put(self, op: Op, hurry: bool = False) -> None:
        """Queue `op` (always a new entry: an earlier one may be in the batch being stored now)."""
        with self._cond:
            self._pending.append(op)
            self._hurry = self._hurry or hurry
            self._cond.notify_all()

    def stored_id(self, key: int | None) -> int | None:
        """The database id of a session id handed out, None while not stored yet."""
        if key is None or key > 0:
            return key
        with self._cond:
            return self._ids.get(key)

    def is_deleted(self, key: int | None) -> bool:
        """True once the session `key` (provisional or stored) is known to be deleted."""
        if key is None:
            return False
        with self._cond:
            return key in self._deleted or self._ids.get(key, key) in self._deleted

    def mark_deleted(self, keys: Iterable[int]) -> None:
        """Record that sessions `keys` were deleted, and drop their queued writes."""
        keys = set(keys)
        with self._cond:
            keys |= {self._ids[k] for k in keys if k in self._ids}
            keys |= {k for k, stored in self._ids.items() if stored in keys}
            self._deleted |= keys
            self._pending = [op for op in self._pending if op.key not in keys]
            self._cond.notify_all()

    def drop_all(self) -> set[int]:
        """Drop every queued write; return the session keys they belonged to."""
        with self._cond:
            keys = {op.key for op in self._pending}
            self._pending = []
            self._cond.notify_all()
        return keys

    def edit(self, change: Callable[[list[Op]], None]) -> None:
        """Run `change(queued ops)` under the queue's lock (to rewrite queued rows in place)."""
        with self._cond:
            change(self._pending)

    def paused(self) -> threading.Lock:
        """A lock that keeps the writer from storing a batch while held."""
        return self._paused

    # -- state -------------------------------------------------------------------------------

    def fail(self, message: str) -> None:
        """Record a failure to show in `last_error` until writes succeed again."""
        with self._cond:
            self._error = message

    def last_error(self, describe: Callable[[list[Op]], str]) -> str | None:
        """The last failure with `describe(queued ops)` appended, None when healthy."""
        with self._cond:
            if self._error is None:
                return None
            return f"{self._error} ({describe(self._pending)})"

    def flush(self, timeout: float) -> bool:
        """Wait until every queued write is stored; False if that did not happen within `timeout` s."""
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def close(self, timeout: float) -> bool:
        """Flush for up to `timeout` s, then stop the writer; False if writes were left unsaved."""
        flushed = self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return flushed

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing)
                if self._closing and not self._pending:
                    return
                # Gather rows into one transaction; wait longer between attempts while failing.
                pause = RETRY_INTERVAL_S if self._error else BATCH_INTERVAL_S
                self._cond.wait_for(lambda: self._hurry or self._closing, pause)
                self._hurry = False
            with self._paused:
                with self._cond:
                    batch = list(self._pending)
                    ids = dict(self._ids)
                stored = self._write(batch, ids)
                with self._cond:
                    if stored is not None:
                        done = set(map(id, batch))
                        self._pending = [op for op in self._pending if id(op) not in done]
                        self._ids.update(stored.ids)
                        self._deleted |= stored.deleted
                        if not self._pending:
                            self._error = None
                    self._cond.notify_all()
                    if self._closing and stored is None:
                        return

    def _write(self, batch: list[Op], ids: dict[int, int]) -> StoredBatch | None:
        try:
            return self._store(batch, ids)
        except SQLAlchemyError as exc:
            message = reason(exc)
            logger.warning("emotion log write failed: %s", message)
            self.fail(f"cannot write the emotion log: {message}")
            return None
