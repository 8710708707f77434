"""Settings: defaults, environment overrides and validation, all in one place.

Every tunable of the product lives in `Settings`. `load_settings()` reads the environment
(variables named in `ENV`) and validates every value; bad values raise `SettingsError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import SettingsError
from .labels import LABELS
from .networks import BACKENDS, DETECTORS

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "Happy": 2.0,
        "Neutral": 2.0,
        "Sad": -1.0,
        "Angry": -2.0,
        "Disgust": -2.0,
        "Fear": -2.0,
        "Surprise": -2.0,
        "Contempt": -2.0,
    }
)
"""Points per observed emotion, from the original design (every other label -2)."""

MIN_IDENTIFY_FACE = 40
"""Default smallest face width (pixels) identified, read and counted in video (docs/performance.md#small-faces)."""

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image accepted from a user, in pixels (decompression-bomb guard)."""

WEIGHT_RANGE = (-2.0, 2.0)
TOLERANCE_RANGE = (0.2, 0.8)
SAMPLE_PERIOD_RANGE = (0.05, 60.0)
REFRESH_RANGE = (0.2, 10.0)
EMOTION_MODELS = ("auto", *BACKENDS, "none")
AUTH_MODES = ("auto", "required", "none")
ROLES = ("admin", "operator", "viewer")
"""Access roles, most powerful first."""
SESSION_IDLE_RANGE = (60.0, 7 * 24 * 3600.0)
ANALYSIS_RANGES = {
    "detect_width": (64, 4096),
    "detect_upsample": (0, 2),
    "identity_votes": (1, 15),
    "track_grace_s": (0.0, 60.0),
    "identity_recheck_s": (0.1, 600.0),
    "unknown_recheck_s": (0.05, 600.0),
    "emotion_window_s": (0.0, 60.0),
    "detect_period_s": (0.0, 10.0),
    "min_identify_face": (0, 4096),
    "emotion_period_s": (0.0, 10.0),
    "db_connect_timeout_s": (1.0, 300.0),
    "db_lock_timeout_s": (0.1, 300.0),
    "db_statement_timeout_s": (0.5, 3600.0),
    "analysis_max_fps": (0.0, 120.0),
    "analysis_niceness": (0, 19),
    "analysis_idle_stop_s": (0.5, 600.0),
    "overlay_max_age_s": (0.1, 10.0),
}
INTEGER_SETTINGS = ("detect_width", "detect_upsample", "identity_votes", "analysis_niceness", "min_identify_face")

ENV = {
    "faces_path": "EMOTION_FACES",
    "db_url": "EMOTION_DB_URL",
    "models_dir": "EMOTION_MODELS_DIR",
    "emotion_model": "EMOTION_MODEL",
    "detector": "EMOTION_DETECTOR",
    "tolerance": "EMOTION_TOLERANCE",
    "sample_period": "EMOTION_SAMPLE_PERIOD",
    "weights": "EMOTION_WEIGHTS",
    "count_unknown": "EMOTION_COUNT_UNKNOWN",
    "min_identify_face": "EMOTION_MIN_IDENTIFY_FACE",
    "ice_servers": "EMOTION_ICE_SERVERS",
    "db_connect_timeout_s": "EMOTION_DB_CONNECT_TIMEOUT",
    "db_lock_timeout_s": "EMOTION_DB_LOCK_TIMEOUT",
    "db_statement_timeout_s": "EMOTION_DB_STATEMENT_TIMEOUT",
    "analysis_max_fps": "EMOTION_ANALYSIS_MAX_FPS",
    "analysis_niceness": "EMOTION_ANALYSIS_NICENESS",
    "refresh_s": "EMOTION_REFRESH_S",
    "bench_stamp": "EMOTION_BENCH_STAMP",
    "auth": "EMOTION_AUTH",
    "session_idle_s": "EMOTION_SESSION_IDLE",
    "oidc_roles": "EMOTION_OIDC_ROLES",
}


@dataclass(frozen=True)
class DbTimeouts:
    """Seconds a database client waits: to connect, for a lock, for one statement."""

    connect_s: float = 3.0
    lock_s: float = 2.0
    statement_s: float = 5.0


def default_db_url() -> str:
    """SQLite file `emotions.db` in the project root."""
    return f"sqlite:///{PROJECT_ROOT / 'emotions.db'}"


@dataclass(frozen=True)
class Settings:
    """Every setting of the product, validated on creation."""

    faces_path: Path = PROJECT_ROOT / "faces.pkl"
    db_url: str = field(default_factory=default_db_url)
    models_dir: Path = PROJECT_ROOT / "models"
    emotion_model: str = "auto"
    # Face detector (hog|retinaface); a missing retinaface model falls back to hog with a warning.
    detector: str = "retinaface"
    # Measured on ../shared/data/faces: see docs/performance.md.
    tolerance: float = 0.55
    sample_period: float = 0.5
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    count_unknown: bool = True
    # WebRTC ICE servers for the browser and the server; none works on one machine or a LAN.
    ice_servers: tuple[Mapping[str, Any], ...] = ()
    # Detection runs on the frame scaled to at most this width (pixels).
    detect_width: int = 320
    # HOG upsampling of the downscaled frame: 1 finds faces down to about 40 px there.
    detect_upsample: int = 1
    # Faces narrower than this (pixels, in the frame) are tracked and drawn but neither identified
    # nor read nor counted; 0 identifies every face. Photos of ../shared/data scaled down to 40 px
    # faces are all still named, below it their distances reach the tolerance (docs/performance.md).
    min_identify_face: int = MIN_IDENTIFY_FACE
    # Detection runs at most this often (seconds); frames in between keep the tracked boxes.
    # Detection is most of a frame's cost (docs/performance.md); 0 detects on every frame.
    detect_period_s: float = 0.1
    # A track unseen for longer than this (seconds) ends.
    track_grace_s: float = 1.0
    # Recognitions a new track's identity is voted from, and seconds between re-checks. An Unknown
    # track is re-checked after unknown_recheck_s, then after twice as long each time it stays
    # Unknown (a face turning towards the camera is often Unknown at first).
    identity_votes: int = 3
    identity_recheck_s: float = 2.0
    unknown_recheck_s: float = 0.25
    # Emotion probabilities are averaged over this many seconds per track.
    emotion_window_s: float = 1.0
    # The emotion model looks at each face at most this often (seconds); the smoothing window and
    # the sampling period need no more. 0 classifies on every frame.
    emotion_period_s: float = 0.1
    # Live analysis runs in its own process per camera stream (emotion_core/worker.py), at most
    # this many frames a second (0: as fast as it can) and at this `nice` priority, so the video
    # path keeps the CPU it needs. The process ends after analysis_idle_stop_s without frames.
    analysis_max_fps: float = 0.0
    analysis_niceness: int = 10
    analysis_idle_stop_s: float = 5.0
    # Faces analysed longer ago than this (seconds) are no longer drawn on the video.
    overlay_max_age_s: float = 1.5
    # Largest image accepted from a user, in pixels (decompression-bomb guard).
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    # Smallest face side (pixels, in the original image) accepted at enrollment.
    min_enroll_face: int = 40
    # A database server that stops answering must not hang a page, the frame path or a command:
    # seconds to wait for a connection, for a lock held by another server, for one statement.
    db_connect_timeout_s: float = 3.0
    db_lock_timeout_s: float = 2.0
    db_statement_timeout_s: float = 5.0
    # Seconds between redraws of the live page's figures while the camera runs. On a loaded 2-core
    # machine clicks were sometimes lost while these timed reruns kept coming at 0.5 s; 1 s leaves
    # fewer of them to collide with a click's full rerun.
    refresh_s: float = 1.0
    # For bench/e2e.py: overlays carry the frame-number stamp of the frame they were analysed from
    # (emotion_core/stamp.py). Off for users.
    bench_stamp: bool = False
    # Sign-in: auto = required unless the server listens on a loopback address (docs/access-control.md).
    auth: str = "auto"
    # A signed-in browser session without interaction for this many seconds is signed out.
    session_idle_s: float = 1800.0
    # OpenID Connect sign-in: role -> e-mail addresses, "*@domain" or "group:NAME" granted that role.
    oidc_roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "faces_path", Path(self.faces_path))
        object.__setattr__(self, "models_dir", Path(self.models_dir))
        object.__setattr__(self, "tolerance", validate_tolerance(self.tolerance))
        object.__setattr__(self, "sample_period", validate_sample_period(self.sample_period))
        object.__setattr__(self, "weights", validate_weights(self.weights))
        if self.emotion_model not in EMOTION_MODELS:
            raise SettingsError(f"EMOTION_MODEL must be one of {', '.join(EMOTION_MODELS)}, not {self.emotion_model!r}")
        if self.detector not in DETECTORS:
            raise SettingsError(f"EMOTION_DETECTOR must be one of {', '.join(DETECTORS)}, not {self.detector!r}")
        if not isinstance(self.db_url, str) or "://" not in self.db_url:
            raise SettingsError(f"database URL is not a SQLAlchemy URL: {self.db_url!r}")
        object.__setattr__(self, "ice_servers", validate_ice_servers(self.ice_servers))
        object.__setattr__(self, "refresh_s", _in_range("refresh_s", self.refresh_s, *REFRESH_RANGE))
        if self.auth not in AUTH_MODES:
            raise SettingsError(f"EMOTION_AUTH must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        object.__setattr__(
            self, "session_idle_s", _in_range("session idle time", self.session_idle_s, *SESSION_IDLE_RANGE)
        )
        object.__setattr__(self, "oidc_roles", validate_oidc_roles(self.oidc_roles))
        for name, (low, high) in ANALYSIS_RANGES.items():
            value = _in_range(name, getattr(self, name), low, high)
            if name in INTEGER_SETTINGS and not value.is_integer():
                raise SettingsError(f"{name} must be a whole number, not {getattr(self, name)!r}")
            object.__setattr__(self, name, int(value) if name in INTEGER_SETTINGS else value)

    @property
    def db_timeouts(self) -> DbTimeouts:
        """The database timeouts as one value (what the store needs)."""
        return DbTimeouts(self.db_connect_timeout_s, self.db_lock_timeout_s, self.db_statement_timeout_s)

    def __reduce__(self) -> tuple[object, ...]:
        # Settings travel to the analysis process; the read-only mappings do not pickle.
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        values["weights"] = dict(self.weights)
        values["oidc_roles"] = dict(self.oidc_roles)
        return _rebuild_settings, (values,)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with `changes` applied and validated."""
        return dataclasses.replace(self, **changes)


def _rebuild_settings(values: dict[str, Any]) -> Settings:
    return Settings(**values)


def _in_range(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool):  # float(True) would quietly be 1.0
        raise SettingsError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return number


def validate_tolerance(value: Any) -> float:
    """Return `value` as a recognition tolerance, or raise `SettingsError`."""
    return _in_range("tolerance", value, *TOLERANCE_RANGE)


def validate_sample_period(value: Any) -> float:
    """Return `value` as a sampling period in seconds, or raise `SettingsError`."""
    return _in_range("sampling period", value, *SAMPLE_PERIOD_RANGE)


def validate_weights(value: Any) -> Mapping[str, float]:
    """Return a complete, read-only label→weight mapping; missing labels keep their default."""
    if not isinstance(value, Mapping):
        raise SettingsError("weights must be a mapping of emotion label to number")
    unknown = sorted(set(value) - set(LABELS))
    if unknown:
        raise SettingsError(f"unknown emotion label(s) in weights: {', '.join(map(str, unknown))}")
    merged = dict(DEFAULT_WEIGHTS)
    for label, weight in value.items():
        merged[label] = _in_range(f"weight of {label}", weight, *WEIGHT_RANGE)
    return MappingProxyType(merged)


def session_weights(stored: Mapping[str, Any] | None) -> Mapping[str, float]:
    """The weights a logged session was counted with, from its stored settings; the defaults when
    it has none (or unusable ones)."""
    weights = (stored or {}).get("weights")
    if weights is None:
        return DEFAULT_WEIGHTS
    try:
        return validate_weights(weights)
    except SettingsError:
        return DEFAULT_WEIGHTS


def validate_ice_servers(value: Any) -> tuple[Mapping[str, Any], ...]:
    """Return ICE servers as a tuple of dicts each with a `urls` entry, or raise `SettingsError`."""
    if isinstance(value, Mapping) or not isinstance(value, (list, tuple)):
        raise SettingsError('ICE servers must be a list like [{"urls": ["stun:host:3478"]}]')
    for server in value:
        if not isinstance(server, Mapping) or "urls" not in server:
            raise SettingsError('each ICE server needs a "urls" entry')
    return tuple(dict(server) for server in value)


def validate_oidc_roles(value: Any) -> Mapping[str, tuple[str, ...]]:
    """Return a read-only role -> lower-cased identities mapping, or raise `SettingsError`."""
    if not isinstance(value, Mapping):
        raise SettingsError('OIDC roles must be a mapping like {"admin": ["alice@example.com", "group:admins"]}')
    roles: dict[str, tuple[str, ...]] = {}
    for role, identities in value.items():
        if role not in ROLES:
            raise SettingsError(f"unknown role {role!r} in OIDC roles (roles: {', '.join(ROLES)})")
        if isinstance(identities, str) or not isinstance(identities, (list, tuple)):
            raise SettingsError(f"OIDC roles: {role} needs a list of e-mail addresses or groups")
        if not all(isinstance(identity, str) and identity.strip() for identity in identities):
            raise SettingsError(f"OIDC roles: every entry of {role} must be a non-empty string")
        roles[role] = tuple(identity.strip().lower() for identity in identities)
    return MappingProxyType(roles)


def _parse_env(name: str, raw: str) -> Any:
    if name in ("weights", "ice_servers", "oidc_roles"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{ENV[name]} is not valid JSON: {exc.msg}") from None
    if name in ("count_unknown", "bench_stamp"):
        if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise SettingsError(f"{ENV[name]} must be true or false, not {raw!r}")
        return raw.strip().lower() in ("1", "true", "yes")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build `Settings` from defaults, then the environment, then `overrides` (None = unset)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, variable in ENV.items():
        if environ.get(variable, "") != "":
            values[name] = _parse_env(name, environ[variable])
    values.update({key: value for key, value in overrides.items() if value is not None})
    return Settings(**values)
