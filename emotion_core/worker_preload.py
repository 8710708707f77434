"""Imported by the analysis fork server (see `worker`): loads dlib's models and onnxruntime once,
so that every analysis process forked from it starts in milliseconds."""

import contextlib

import onnxruntime  # noqa: F401  (imported for its start-up cost only)

from .errors import EmotionCoreError
from .recognition import dlib_models

# A missing model is reported by the analysis process itself; the fork server must live on.
with contextlib.suppress(EmotionCoreError):
    dlib_models()
