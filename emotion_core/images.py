"""Loading user images into RGB arrays: the one place that decodes user files."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .config import DEFAULT_MAX_PIXELS
from .errors import ImageError, NotAnImageError

ImageSource = str | Path | bytes | BinaryIO

MIN_IMAGE_SIDE = 32
# Decoders offered to user files (JPEG includes MPO); rarer ones (PSD, ICO, EPS...) are left out.
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")


def describe(source: ImageSource) -> str:
    """A short human name for an image source, for error messages."""
    if isinstance(source, (str, Path)):
        return str(source)
    return getattr(source, "name", None) or "uploaded image"


def _open_bytes(source: ImageSource) -> bytes:
    try:
        if isinstance(source, (str, Path)):
            return Path(source).read_bytes()
        if isinstance(source, bytes):
            return source
        if hasattr(source, "getvalue"):
            return source.getvalue()
        return source.read()
    except FileNotFoundError:
        raise ImageError(f"{describe(source)}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{describe(source)}: is a directory, not an image") from None
    except OSError as exc:
        raise ImageError(f"{describe(source)}: cannot read file ({exc.strerror or exc})") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        grey = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        span = float(values.max() - values.min()) or 1.0
        grey = ((values - values.min()) / span * 255.0).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def load_image(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = MIN_IMAGE_SIDE
) -> np.ndarray:
    """Decode an image file, bytes or upload into an upright RGB uint8 array (H, W, 3).

    Handles greyscale, 16-bit, alpha, palette, CMYK, animated (first frame) and EXIF-rotated
    images. Refuses empty, corrupt, truncated, oversized (checked before decoding pixels) and
    tiny images with `ImageError`.
    """
    name = describe(source)
    data = _open_bytes(source)
    if not data:
        raise ImageError(f"{name}: file is empty")
    # face_recognition turns this on at import; a truncated file must be an error here.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd metadata in user files
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(f"{name}: image too large ({width}x{height} pixels; limit {max_pixels:,} pixels)")
                if min(width, height) < min_side:
                    raise ImageError(
                        f"{name}: image too small ({width}x{height}; at least {min_side}x{min_side} needed)"
                    )
                image.seek(0)
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                return _to_rgb(upright)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image file (unknown or unsupported format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: image too large, refused before decoding ({exc})") from None
    except Exception as exc:  # any decoder failure on user bytes means an unreadable file
        reason = "truncated or corrupt file" if "truncated" in str(exc).lower() else f"corrupt image ({exc})"
        raise ImageError(f"{name}: {reason}") from None


def validate_frame(frame: object) -> np.ndarray:
    """Return `frame` if it is a usable 3-channel uint8 image array, else raise `ImageError`."""
    if not isinstance(frame, np.ndarray):
        raise ImageError(f"frame must be a numpy array, not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ImageError(f"frame must be uint8, not {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ImageError(f"frame must have shape (height, width, 3), not {frame.shape}")
    if min(frame.shape[:2]) < MIN_IMAGE_SIDE:
        raise ImageError(f"frame too small ({frame.shape[1]}x{frame.shape[0]})")
    return frame
