"""The bad and unusual image inputs of issue 8, made from the real photos in ../shared/data/faces.

`make_cases(directory)` writes every case and returns them; each `Case` says what the product must
do with it: refuse it with a reason, or accept it (and then whether it holds one face of the person).
"""

from __future__ import annotations

import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.data import FACES, GROUPS

PERSON = "Barack Obama"
PHOTO = FACES / "barack_obama" / "fr__obama.jpg"
OTHER_PHOTO = FACES / "joe_biden" / "fr__biden2.jpg"
TWO_PEOPLE = GROUPS / "fr__two_people.jpg"
BOMB_SIDE = 20_000
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Case:
    """One input file and the outcome the product owes it."""

    key: str
    path: Path
    refused: str | None = None  # substring of the ImageError when loading must fail
    faces: int = 1  # faces of the loaded image (when it loads)
    person: bool = True  # the one face is PERSON


def png_bomb(path: Path, side: int = BOMB_SIDE) -> Path:
    """A valid side x side RGB PNG of black pixels, a few MB on disk (1.2 GB decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows_per_block = 100
    block = (b"\0" * (side * 3 + 1)) * rows_per_block
    compressor = zlib.compressobj(1)
    idat = b"".join([compressor.compress(block) for _ in range(side // rows_per_block)] + [compressor.flush()])
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def exif_rotated(path: Path, source: Path = PHOTO) -> Path:
    """The photo's pixels turned a quarter left, with EXIF Orientation 6 saying how to show it upright."""
    with Image.open(source) as image:
        sideways = image.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    sideways.save(path, "JPEG", quality=92, exif=exif)
    return path


def make_cases(directory: Path, bomb: Path | None = None) -> list[Case]:
    """Write every bad/unusual image case into `directory`; reuse `bomb` if given (it is slow to make)."""
    directory.mkdir(parents=True, exist_ok=True)
    photo = Image.open(PHOTO).convert("RGB")
    rgb = np.asarray(photo)
    grey = np.asarray(photo.convert("L"))
    cases: list[Case] = []

    def add(name: str, data: bytes | Image.Image, fmt: str | None = None, **saving) -> Path:
        path = directory / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            data.save(path, fmt, **saving)
        return path

    raw = PHOTO.read_bytes()
    cases.append(Case("zero-byte file", add("empty.jpg", b""), refused="empty"))
    cases.append(Case("truncated JPEG", add("truncated.jpg", raw[: len(raw) // 2]), refused="truncated"))
    cases.append(
        Case("text file named .jpg", add("notes.jpg", b"just some notes, not a photo\n"), refused="not an image")
    )
    cases.append(Case("16-bit PNG", add("sixteen_bit.png", Image.fromarray(grey.astype(np.uint16) * 257), "PNG")))
    alpha = np.dstack([rgb, np.full(grey.shape, 255, np.uint8)])
    alpha[:, : alpha.shape[1] // 8, 3] = 0  # a transparent strip on the left
    cases.append(Case("PNG with alpha", add("alpha.png", Image.fromarray(alpha, "RGBA"), "PNG")))
    cases.append(Case("greyscale JPEG", add("grey.jpg", Image.fromarray(grey, "L"), "JPEG", quality=92)))
    cases.append(Case("CMYK JPEG", add("cmyk.jpg", photo.convert("CMYK"), "JPEG", quality=92)))
    other = Image.open(OTHER_PHOTO).convert("RGB").resize(photo.size)
    gif = directory / "animated.gif"
    photo.save(gif, "GIF", save_all=True, append_images=[other], duration=200, loop=0)
    cases.append(Case("animated GIF (first frame used)", gif))
    cases.append(Case("EXIF-rotated JPEG (Orientation 6)", exif_rotated(directory / "rotated.jpg")))
    if bomb is None:
        bomb = png_bomb(directory / "bomb.png")
    cases.append(Case(f"decompression bomb {BOMB_SIDE}x{BOMB_SIDE} PNG", bomb, refused="too large"))
    cases.append(Case("tiny 20x20 image", add("tiny.png", photo.resize((20, 20)), "PNG"), refused="too small"))
    cases.append(
        Case("photo without a face", add("no_face.jpg", Image.fromarray(rgb[rgb.shape[0] // 2 :]), "JPEG"), faces=0)
    )
    two = directory / "two_people.jpg"
    shutil.copyfile(TWO_PEOPLE, two)
    cases.append(Case("two faces", two, faces=2, person=False))
    return cases
