"""Workarounds for third-party packages of the core, each checked against the version it was
written for so that an upgrade that changes what it patches fails loudly instead of silently."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

HSEMOTION_ONNX_VERSION = "0.3.1"


def require_version(package: str, expected: str, why: str) -> None:
    """Raise RuntimeError when `package` is installed at another version than `expected`."""
    found = importlib.metadata.version(package)
    if found != expected:
        raise RuntimeError(
            f"{package} {found} is installed, but a workaround was written for {expected} ({why}); "
            f"check it still applies, then update the version in {__name__}"
        )


def hsemotion_recognizer(labels: Sequence[str], session: Any) -> Any:
    """hsemotion-onnx's `HSEmotionRecognizer` over an already opened ONNX session.

    The library's own `__init__` downloads its weights on first use, which fails offline; this
    sets the attributes its `predict_multi_emotions` reads and skips the download.
    """
    require_version("hsemotion-onnx", HSEMOTION_ONNX_VERSION, "HSEmotionRecognizer.__init__ is bypassed")
    from hsemotion_onnx.facial_emotions import HSEmotionRecognizer

    recognizer = HSEmotionRecognizer.__new__(HSEmotionRecognizer)
    recognizer.is_mtl = False
    recognizer.idx_to_class = dict(enumerate(labels))
    recognizer.img_size = 224
    recognizer.ort_session = session
    return recognizer
