"""Property-based tests: random and mutated bytes into the image loader, random arrays into
`validate_frame` and `FrameAnalyzer.analyze`. Only our own error types may come out, never a crash."""

from __future__ import annotations

import functools
import io
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from emotion_core.errors import EmotionCoreError, ImageError
from emotion_core.images import load_image, validate_frame
from tests.data import FACES

PHOTO = FACES / "barack_obama" / "fr__obama.jpg"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def _encoded(fmt: str) -> bytes:
    """The real photo, small, in `fmt` (made on first use: the data may be absent at collection)."""
    image = Image.open(PHOTO).convert("RGB").resize((72, 90))
    if fmt == "GIF":
        image = image.convert("P")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


SEED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
MAGIC = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"GIF87a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x01\x00",
]


def _loads_or_refuses(data: bytes) -> None:
    try:
        rgb = load_image(data)
    except ImageError as exc:
        assert "\n" not in str(exc)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _loads_or_refuses(data)


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_random_bytes_after_a_real_magic_number(magic, tail):
    _loads_or_refuses(magic + tail)


@pytest.mark.requires_data
@FUZZ
@given(st.sampled_from(SEED_FORMATS), st.data())
def test_mutated_real_images(fmt, data):
    """Real files with bytes overwritten, removed or inserted, or cut short: the decoders' hard cases."""
    raw = bytearray(_encoded(fmt))
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        position = data.draw(st.integers(0, len(raw) - 1), label="position")
        action = data.draw(st.sampled_from(["set", "delete", "insert", "truncate"]), label="action")
        if action == "set":
            raw[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del raw[position]
        elif action == "insert":
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            del raw[max(position, 1) :]
        if not raw:
            break
    _loads_or_refuses(bytes(raw))


@pytest.mark.requires_data
def test_the_seed_images_themselves_load():
    for fmt in SEED_FORMATS:
        assert load_image(_encoded(fmt)).shape == (90, 72, 3), fmt


frames = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.bool_, np.uint16]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=80),
    ),
    hnp.arrays(dtype=np.uint8, shape=st.tuples(st.integers(0, 300), st.integers(0, 300), st.just(3))),
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(0, 255), max_size=9),
)


@FUZZ
@given(frames)
def test_validate_frame(frame):
    try:
        assert validate_frame(frame) is frame
    except ImageError:
        return
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


@pytest.fixture(scope="module")
def analyzer():
    """A real FrameAnalyzer: real registry encodings and the emotion model when it is provisioned."""
    from emotion_core.analyzer import FrameAnalyzer
    from emotion_core.config import Settings
    from emotion_core.emotions import load_emotion_model
    from emotion_core.recognition import detect_faces, encode_faces
    from emotion_core.registry import Registry

    rgb = load_image(PHOTO)
    registry = Registry().with_person("Barack Obama", encode_faces(rgb, detect_faces(rgb)))
    try:
        model = load_emotion_model("auto")
    except EmotionCoreError:
        model = None
    return FrameAnalyzer(registry, model, Settings())


def _real_frame_variants():
    """BGR crops, flips, strided views and noise over a real photo, so faces are found sometimes."""
    bgr = np.ascontiguousarray(load_image(PHOTO)[:, :, ::-1])
    small = bgr[::4, ::4]
    return st.one_of(
        st.builds(
            lambda top, left, h, w: bgr[top : top + h, left : left + w],
            st.integers(0, 1100),
            st.integers(0, 900),
            st.integers(0, 700),
            st.integers(0, 700),
        ),
        st.sampled_from(
            [small, small[::-1], small[:, ::-1], small[::2], np.transpose(small, (1, 0, 2)), bgr[:, :, :2], bgr[..., 0]]
        ),
        st.builds(
            lambda seed: np.clip(
                small.astype(np.int16) + np.random.default_rng(seed).integers(-80, 80, small.shape), 0, 255
            ).astype(np.uint8),
            st.integers(0, 2**32 - 1),
        ),
    )


_clock = itertools.count()


@pytest.mark.requires_data
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.one_of(frames, st.deferred(_real_frame_variants)))
def test_frame_analyzer_never_crashes(analyzer, frame):
    try:
        faces = analyzer.analyze(frame, float(next(_clock)) * 0.1)
    except EmotionCoreError:
        return
    assert isinstance(faces, list)
    for face in faces:
        top, right, bottom, left = face.box
        assert 0 <= top <= bottom <= frame.shape[0] and 0 <= left <= right <= frame.shape[1]
        if face.scores is not None:
            assert abs(sum(face.scores.values()) - 1.0) < 1e-3
