"""The face registry `faces.pkl`: safe loading, atomic locked saving, people and encodings.

File format (the original design's): a pickled dict ``{"encodings": [ndarray(128,), ...],
"names": [str, ...], "version": 1}`` with one name per encoding.
"""

from __future__ import annotations

import io
import logging
import pickle
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .errors import EnrollmentError, RegistryError
from .files import TEMPORARY_SUFFIX, write_atomic
from .labels import UNKNOWN

FORMAT_VERSION = 1
ENCODING_SIZE = 128
MAX_NAME_LENGTH = 100
LOCK_TIMEOUT_S = 30.0

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
    path: str | Path,
    name: str,
    encodings: Iterable[np.ndarray],
    check: Callable[[Registry, str, np.ndarray], None] | None = None,
) -> Registry:
    """Add `encodings` for `name` to the registry at `path`.

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

    return update_registry(path, change)


def remove_person(path: str | Path, name: str) -> Registry:
    """Remove `name` from the registry at `path`; raise `EnrollmentError` if not enrolled."""
    name = normalize_name(name)
    logger.debug("removing %s", name)

    def change(registry: Registry) -> Registry:
        if name not in registry.names:
            raise EnrollmentError(f"no enrolled person named {name!r}")
        return registry.without_person(name)

    return update_registry(path, change)
