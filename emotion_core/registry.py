"""The face registry: the in-memory `Registry`, where it is stored, and the file `faces.pkl`.

A `RegistryStore` keeps the enrolled people: `FileRegistry` (`faces.pkl`, the default on one
machine) or `registry_db.DatabaseRegistry` (the `enrolled_faces` table, when `EMOTION_DB_URL` names
a database server shared by several app servers). `open_registry(settings)` picks the right one.

File format (the original design's): a pickled dict ``{"encodings": [ndarray(128,), ...],
"names": [str, ...], "version": 1}`` with one name per encoding; safe loading (a restricted
unpickler), atomic locked saving.
"""

from __future__ import annotations

import io
import logging
import math
import pickle
import threading
import time
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from filelock import FileLock, Timeout

from .config import Settings
from .errors import EnrollmentError, RegistryError
from .files import TEMPORARY_SUFFIX, write_atomic
from .labels import UNKNOWN

FORMAT_VERSION = 1
ENCODING_SIZE = 128
MAX_NAME_LENGTH = 100
LOCK_TIMEOUT_S = 30.0
REFRESH_S = 2.0
"""Running sessions see enrollments and deletions made elsewhere at most this late (plus a page refresh)."""

# People's names are personal data: they are logged at DEBUG level only.
logger = logging.getLogger(__name__)

# The only globals a registry pickle may name: numpy's array reconstruction helpers.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """What pickle protocol 2 needs from `_codecs.encode`: array bytes stored as latin-1 text."""
    if not isinstance(text, str) or encoding != "latin1":
        raise RegistryError("refusing to load: unexpected use of '_codecs.encode' (possibly tampered)")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that admits only plain containers, strings, numbers and numpy arrays."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        raise RegistryError(
            f"refusing to load: the file references the global '{module}.{name}'"
            " (not a plain registry; possibly tampered)"
        )


@dataclass(frozen=True)
class Registry:
    """An immutable view of the enrolled people: one name per 128-d encoding."""

    names: tuple[str, ...] = ()
    encodings: np.ndarray = field(default_factory=lambda: np.empty((0, ENCODING_SIZE)))

    def __len__(self) -> int:
        return len(self.names)

    def people(self) -> dict[str, int]:
        """Enrolled names with their number of encodings, in enrollment order."""
        counts: dict[str, int] = {}
        for name in self.names:
            counts[name] = counts.get(name, 0) + 1
        return counts

    def with_person(self, name: str, encodings: np.ndarray) -> Registry:
        """Return a registry with `encodings` added under `name`."""
        encodings = np.asarray(encodings, dtype=np.float64).reshape(-1, ENCODING_SIZE)
        return Registry(self.names + (name,) * len(encodings), np.vstack([self.encodings, encodings]))

    def encodings_of(self, name: str) -> np.ndarray:
        """The encodings enrolled under `name` (none: an empty 0x128 array)."""
        return self.encodings[[i for i, other in enumerate(self.names) if other == name]]

    def without_person(self, name: str) -> Registry:
        """Return a registry without `name`'s encodings."""
        keep = [i for i, other in enumerate(self.names) if other != name]
        return Registry(tuple(self.names[i] for i in keep), self.encodings[keep])


def normalize_name(name: str) -> str:
    """The name as stored: surrounding spaces removed, Unicode NFC."""
    return unicodedata.normalize("NFC", name.strip())


def validate_name(name: object) -> str:
    """Return the cleaned person name or raise `EnrollmentError` saying why it is refused."""
    if not isinstance(name, str):
        raise EnrollmentError("name must be text")
    cleaned = normalize_name(name)
    if not cleaned:
        raise EnrollmentError("name is empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise EnrollmentError(f"name is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for char in cleaned):
        raise EnrollmentError("name contains control characters")
    if cleaned.casefold() == UNKNOWN.casefold():
        raise EnrollmentError(f"'{UNKNOWN}' is reserved for faces that match nobody")
    return cleaned


def _parse(payload: object, path: Path) -> Registry:
    if not isinstance(payload, dict) or "encodings" not in payload or "names" not in payload:
        raise RegistryError(f"{path}: not a face registry (expected a dict with 'encodings' and 'names')")
    names, encodings = payload["names"], payload["encodings"]
    if not isinstance(names, (list, tuple)) or not isinstance(encodings, (list, tuple, np.ndarray)):
        raise RegistryError(f"{path}: 'names' and 'encodings' must be lists")
    if len(names) != len(encodings):
        raise RegistryError(f"{path}: {len(names)} names but {len(encodings)} encodings")
    rows = []
    for index, (name, encoding) in enumerate(zip(names, encodings)):
        if not isinstance(name, str) or not name.strip():
            raise RegistryError(f"{path}: entry {index} has no valid name")
        array = np.asarray(encoding) if isinstance(encoding, np.ndarray) else None
        if (
            array is None
            or array.shape != (ENCODING_SIZE,)
            or array.dtype.kind != "f"
            or not np.all(np.isfinite(array))
        ):
            raise RegistryError(f"{path}: entry {index} ({name}) is not a 128-d encoding")
        rows.append(array.astype(np.float64))
    matrix = np.vstack(rows) if rows else np.empty((0, ENCODING_SIZE))
    return Registry(tuple(names), matrix)


def load_registry(path: str | Path) -> Registry:
    """Load `path` without executing anything in it; a missing file is an empty registry."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Registry()
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        payload = _RestrictedUnpickler(io.BytesIO(data)).load()
    except RegistryError:
        raise
    except Exception as exc:  # any unpickling failure means a corrupt file
        raise RegistryError(
            f"{path}: corrupt or truncated registry ({type(exc).__name__}); "
            f"the previous version may be in {path.name}.bak"
        ) from None
    return _parse(payload, path)


def save_registry(path: str | Path, registry: Registry) -> None:
    """Write `registry` atomically, keeping the previous file as `<path>.bak`.

    Call under `registry_lock(path)` when other writers may exist (`update_registry` does).
    """
    path = Path(path)
    payload = {
        "encodings": [row.copy() for row in registry.encodings],
        "names": list(registry.names),
        "version": FORMAT_VERSION,
    }
    data = pickle.dumps(payload, protocol=4)
    try:
        if path.exists():
            write_atomic(path.with_name(path.name + ".bak"), path.read_bytes())
        write_atomic(path, data)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot save ({exc.strerror or exc}); the previous version is unchanged") from None
    logger.info("saved %d encoding(s) of %d people to %s", len(registry), len(registry.people()), path)


def registry_lock(path: str | Path) -> FileLock:
    """The inter-process lock that serialises writers of `path`."""
    path = Path(path)
    return FileLock(str(path.with_name(path.name + ".lock")), timeout=LOCK_TIMEOUT_S)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files left by a writer that died mid-save (only call under the lock)."""
    for leftover in path.parent.glob(f".{path.name}.*{TEMPORARY_SUFFIX}"):  # also matches the backup's
        leftover.unlink(missing_ok=True)


def update_registry(path: str | Path, change: Callable[[Registry], Registry]) -> Registry:
    """Load, apply `change` and save `path` under the file lock; return the saved registry."""
    try:
        with registry_lock(path):
            _remove_stale_temporaries(Path(path))
            updated = change(load_registry(path))
            save_registry(path, updated)
            return updated
    except Timeout:
        raise RegistryError(f"{path}: another process holds the registry lock") from None


def add_person(
    store: RegistryStore | str | Path,
    name: str,
    encodings: Iterable[np.ndarray],
    check: Callable[[Registry, str, np.ndarray], None] | None = None,
) -> Registry:
    """Add `encodings` for `name` to `store` (a `RegistryStore` or the path of a registry file).

    `check(registry, name, encodings)` runs under the lock on the current registry and may raise
    to refuse the addition (nothing is then written).
    """
    name = validate_name(name)
    matrix = np.asarray(list(encodings), dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] != ENCODING_SIZE or not np.all(np.isfinite(matrix)):
        raise EnrollmentError(f"expected one or more {ENCODING_SIZE}-d encodings, got shape {matrix.shape}")
    logger.debug("adding %d encoding(s) for %s", len(matrix), name)

    def change(registry: Registry) -> Registry:
        if check is not None:
            check(registry, name, matrix)
        return registry.with_person(name, matrix)

    return as_store(store).update(change)


def remove_person(store: RegistryStore | str | Path, name: str) -> Registry:
    """Remove `name` from `store` (or the registry file at that path); `EnrollmentError` if not enrolled."""
    name = normalize_name(name)
    logger.debug("removing %s", name)

    def change(registry: Registry) -> Registry:
        if name not in registry.names:
            raise EnrollmentError(f"no enrolled person named {name!r}")
        return registry.without_person(name)

    return as_store(store).update(change)


class RegistryStore(Protocol):
    """Where the enrolled people are kept."""

    @property
    def location(self) -> str:
        """Where, for messages (a file path, or the database without its password)."""
        ...

    def load(self) -> Registry:
        """The enrolled people now; `RegistryError` if they cannot be read."""
        ...

    def update(self, change: Callable[[Registry], Registry]) -> Registry:
        """Apply `change` to the current registry under an exclusive lock and store the result."""
        ...

    def version(self) -> Hashable:
        """A cheap marker that changes whenever the stored people change."""
        ...


@dataclass(frozen=True)
class FileRegistry:
    """The registry in a `faces.pkl` file (one machine)."""

    path: Path

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> Registry:
        return load_registry(self.path)

    def update(self, change: Callable[[Registry], Registry]) -> Registry:
        return update_registry(self.path, change)

    def version(self) -> Hashable:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size


def as_store(store: RegistryStore | str | Path) -> RegistryStore:
    """`store` itself, or the `FileRegistry` of a path."""
    return FileRegistry(Path(store)) if isinstance(store, (str, Path)) else store


def open_registry(settings: Settings) -> RegistryStore:
    """The registry `settings` name: the database when `db_url` is a database server, else `faces_path`."""
    from .db import is_server_url

    if is_server_url(settings.db_url):
        from .registry_db import DatabaseRegistry

        return DatabaseRegistry(settings.db_url, settings.db_timeouts)
    return FileRegistry(settings.faces_path)


_NEVER_LOADED = object()


class RegistryWatcher:
    """A `RegistryStore` whose `current()` people are re-read when its `version` changed.

    The version is checked at most every `period` seconds (each check is one small query on a
    database server; a file's is a stat, so files are checked every time).
    """

    def __init__(self, store: RegistryStore, period: float | None = None) -> None:
        self._store = store
        self._period = period if period is not None else 0.0 if isinstance(store, FileRegistry) else REFRESH_S
        self._lock = threading.Lock()
        self._checked = -math.inf
        self._version: Hashable = _NEVER_LOADED
        self._registry = Registry()
        self._error: RegistryError | None = None

    @property
    def location(self) -> str:
        return self._store.location

    def load(self) -> Registry:
        return self._store.load()

    def version(self) -> Hashable:
        return self._store.version()

    def update(self, change: Callable[[Registry], Registry]) -> Registry:
        """`update` the store; the next `current()` re-reads it."""
        try:
            return self._store.update(change)
        finally:
            with self._lock:
                self._checked = -math.inf

    def current(self) -> Registry:
        """The enrolled people (the same object until they change); `RegistryError` if unreadable."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self._period:
                self._checked = now  # also after a failure: one attempt per period, not per call
                try:
                    version = self._store.version()
                    if version != self._version:
                        self._registry = self._store.load()
                        self._version = version
                    self._error = None
                except RegistryError as exc:
                    self._error = exc
                    if self._version is not _NEVER_LOADED:
                        logger.warning("keeping the enrolled people read before: %s", exc)
            if self._error is not None and self._version is _NEVER_LOADED:
                raise self._error
            return self._registry
