"""What each emotion network expects and returns: one spec per network, shared by the weight
provisioning (`weights`), the converter (`faceapi_convert`) and the backends (`emotions`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkSpec:
    """An emotion network's signature: input layout and size, its own labels in output order."""

    name: str
    input_shape: tuple[int, int, int]  # one sample, without the batch axis
    labels: tuple[str, ...]  # the network's own names, in output order
    pixel_scale: float  # verification inputs are uniform in 0..pixel_scale


FACEAPI = NetworkSpec(
    name="faceapi",
    # NHWC RGB 0..255: a face crop zero-padded to a centred square; the graph subtracts MEAN_RGB.
    input_shape=(112, 112, 3),
    labels=("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"),
    pixel_scale=255.0,
)
FACEAPI_MEAN_RGB = (122.782, 117.001, 104.298)

HSEMOTION = NetworkSpec(
    name="hsemotion",
    # NCHW RGB, ImageNet-normalised by the library's own preprocessing.
    input_shape=(3, 224, 224),
    labels=("Anger", "Contempt", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise"),
    pixel_scale=1.0,
)

HUMAN = NetworkSpec(
    name="human",
    # NHWC grey 0..255 (ITU-R 601 weights, as the Human library); the graph maps it to -1..1.
    input_shape=(64, 64, 1),
    labels=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    pixel_scale=255.0,
)

NETWORKS: dict[str, NetworkSpec] = {spec.name: spec for spec in (HSEMOTION, FACEAPI, HUMAN)}
"""Every emotion network with its own weights, by name."""

ENSEMBLE = "ensemble"
ENSEMBLE_MEMBERS = ("faceapi", "human")
"""The backend averaging the probabilities of these networks."""

BACKENDS: tuple[str, ...] = ("hsemotion", ENSEMBLE, "faceapi", "human")
"""Every emotion backend by name, in the order `auto` tries them (best measured first, see
docs/emotion-models.md; the hand-placed hsemotion first as before)."""

DETECTORS: tuple[str, ...] = ("hog", "retinaface")
"""Every face detector backend by name."""
