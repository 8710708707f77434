"""load_image and validate_frame on real photos and on every bad/unusual image of issue 8."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from emotion_core.errors import ImageError
from emotion_core.images import load_image, validate_frame
from tests.badimages import BOMB_SIDE, OTHER_PHOTO, PHOTO, exif_rotated, make_cases, png_bomb
from tests.data import FACES, PROJECT_ROOT


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return {case.key: case for case in make_cases(tmp_path_factory.mktemp("bad"))}


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    return np.asarray(Image.open(PHOTO).convert("RGB"), dtype=np.float64)


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64).mean(axis=2) - b.astype(np.float64).mean(axis=2))))


@pytest.mark.requires_data
def test_every_real_photo_loads_as_rgb_uint8():
    for path in sorted(FACES.glob("*/*")):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            rgb = load_image(path)
            assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, path
            assert rgb.flags.c_contiguous


@pytest.mark.requires_data
@pytest.mark.parametrize(
    "key",
    [
        "zero-byte file",
        "truncated JPEG",
        "text file named .jpg",
        "tiny 20x20 image",
        f"decompression bomb {BOMB_SIDE}x{BOMB_SIDE} PNG",
    ],
)
def test_bad_images_are_refused_with_one_line_naming_the_file(cases, key):
    case = cases[key]
    with pytest.raises(ImageError) as caught:
        load_image(case.path)
    message = str(caught.value)
    assert case.refused in message
    assert message.startswith(str(case.path))
    assert "\n" not in message


@pytest.mark.requires_data
@pytest.mark.parametrize(
    "key",
    [
        "16-bit PNG",
        "PNG with alpha",
        "greyscale JPEG",
        "CMYK JPEG",
        "EXIF-rotated JPEG (Orientation 6)",
        "photo without a face",
    ],
)
def test_unusual_formats_load_upright_as_the_same_photo(cases, upright, key):
    rgb = load_image(cases[key].path)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    if key == "photo without a face":
        assert rgb.shape[:2] == (upright.shape[0] - upright.shape[0] // 2, upright.shape[1])
        return
    assert rgb.shape[:2] == upright.shape[:2]
    # Same picture, same way up: small mean difference (JPEG re-encoding, alpha over white).
    limit = 40 if key == "PNG with alpha" else 6
    assert _difference(rgb, upright) < limit


@pytest.mark.requires_data
def test_exif_rotation_is_applied_not_ignored(cases, upright):
    with Image.open(cases["EXIF-rotated JPEG (Orientation 6)"].path) as raw:
        stored = np.asarray(raw.convert("RGB"))
    assert stored.shape[:2] == upright.shape[1::-1]  # the file really holds sideways pixels
    assert load_image(cases["EXIF-rotated JPEG (Orientation 6)"].path).shape[:2] == upright.shape[:2]


@pytest.mark.requires_data
def test_every_exif_orientation_comes_out_upright(tmp_path, upright):
    base = Image.open(PHOTO).convert("RGB").resize((300, 375))
    reference = np.asarray(base)
    # The stored pixels for each orientation, as a camera would write them.
    stored = {
        1: base,
        2: base.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        3: base.rotate(180),
        4: base.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        5: base.transpose(Image.Transpose.TRANSPOSE),
        6: base.transpose(Image.Transpose.ROTATE_90),
        7: base.transpose(Image.Transpose.TRANSVERSE),
        8: base.transpose(Image.Transpose.ROTATE_270),
    }
    for orientation, pixels in stored.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.jpg"
        pixels.save(path, "JPEG", quality=95, exif=exif)
        rgb = load_image(path)
        assert rgb.shape == reference.shape, orientation
        assert _difference(rgb, reference) < 6, orientation


@pytest.mark.requires_data
def test_animated_gif_gives_its_first_frame(cases, upright):
    rgb = load_image(cases["animated GIF (first frame used)"].path)
    second = np.asarray(Image.open(OTHER_PHOTO).convert("RGB").resize(rgb.shape[1::-1]), dtype=np.float64)
    assert _difference(rgb, upright) < 12 < _difference(rgb, second)


@pytest.mark.requires_data
def test_sixteen_bit_values_are_scaled_not_clipped(cases):
    rgb = load_image(cases["16-bit PNG"].path)
    assert rgb.max() > 200 and rgb.min() < 60  # clipping at 255 would make it almost white


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    """Decoded, the bomb is 1.2 GB: the refusing process must stay far below that."""
    bomb = png_bomb(tmp_path / "bomb.png")
    # VmHWM is this process's own peak (ru_maxrss would include the parent's from before exec).
    script = textwrap.dedent(f"""
        import re
        from emotion_core.images import load_image
        from emotion_core.errors import ImageError
        try:
            load_image({str(bomb)!r})
        except ImageError as exc:
            print(exc)
        status = open("/proc/self/status").read()
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    message, peak_mb = done.stdout.strip().splitlines()
    assert "too large" in message and f"{BOMB_SIDE * BOMB_SIDE} pixels" in message
    assert int(peak_mb) < 200, f"peak RSS {peak_mb} MB: the pixels were decoded"


def test_our_pixel_limit_applies_below_pillows_own(tmp_path):
    bomb = png_bomb(tmp_path / "big.png", side=8000)  # 64 Mpx: under Pillow's guard, over ours
    with pytest.raises(ImageError, match=r"too large .*8000x8000.*limit"):
        load_image(bomb)
    with pytest.raises(ImageError, match="too large"):
        load_image(png_bomb(tmp_path / "small.png", side=100), max_pixels=1000)


@pytest.mark.requires_data
@pytest.mark.parametrize("kind", ["path", "str", "bytes", "BytesIO", "file"])
def test_every_source_kind_loads(kind):
    data = PHOTO.read_bytes()
    if kind == "file":
        with open(PHOTO, "rb") as handle:
            rgb = load_image(handle)
    else:
        source = {"path": PHOTO, "str": str(PHOTO), "bytes": data, "BytesIO": io.BytesIO(data)}[kind]
        rgb = load_image(source)
    assert rgb.shape[:2] == (1137, 910)


def test_missing_file_directory_and_unsupported_format(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)
    icon = tmp_path / "photo.ico"
    Image.new("RGB", (64, 64), "grey").save(icon, "ICO")
    with pytest.raises(ImageError, match="not an image"):
        load_image(icon)  # decoders outside the supported list are never run on user files


@pytest.mark.requires_data
def test_exif_rotated_helper_writes_orientation(tmp_path):
    with Image.open(exif_rotated(tmp_path / "r.jpg")) as image:
        assert image.getexif()[0x0112] == 6


@pytest.mark.parametrize(
    "frame, reason",
    [
        ([[1, 2, 3]], "numpy array"),
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        (np.zeros((64, 64), np.uint8), "shape"),
        (np.zeros((64, 64, 4), np.uint8), "shape"),
        (np.zeros((10, 64, 3), np.uint8), "too small"),
    ],
)
def test_validate_frame_refuses(frame, reason):
    with pytest.raises(ImageError, match=reason):
        validate_frame(frame)


@pytest.mark.requires_data
def test_validate_frame_accepts_a_real_frame():
    rgb = load_image(PHOTO)
    assert validate_frame(rgb) is rgb
