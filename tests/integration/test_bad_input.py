"""Every bad or unusual image of issue 8 through `enroll` and `identify`: the right outcome, a
one-line error with exit 2 when refused, and faces.pkl unchanged unless the enrollment succeeded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emotion_core.registry import remove_person
from tests.badimages import PERSON, Case, make_cases
from tests.data import photos
from tests.integration.helpers import assert_bad_input, cli

pytestmark = pytest.mark.requires_data


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Case]:
    return {case.key: case for case in make_cases(tmp_path_factory.mktemp("bad"))}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    """Obama from photos other than the one the cases are made of, and Biden."""
    path = tmp_path_factory.mktemp("reg") / "faces.pkl"
    assert cli("enroll", PERSON, *photos("barack_obama")[1:3], faces=path).returncode == 0
    assert cli("enroll", "Joe Biden", photos("joe_biden")[0], faces=path).returncode == 0
    return path


@pytest.fixture
def biden_only(tmp_path, registry) -> Path:
    """A registry without Obama, so enrolling him from a case image is not a look-alike refusal."""
    path = tmp_path / "faces.pkl"
    shutil.copyfile(registry, path)
    remove_person(path, PERSON)
    return path


KEYS = [
    "zero-byte file",
    "truncated JPEG",
    "text file named .jpg",
    "16-bit PNG",
    "PNG with alpha",
    "greyscale JPEG",
    "CMYK JPEG",
    "animated GIF (first frame used)",
    "EXIF-rotated JPEG (Orientation 6)",
    "decompression bomb 20000x20000 PNG",
    "tiny 20x20 image",
    "photo without a face",
    "two faces",
]


def test_the_case_list_is_complete(cases):
    assert sorted(cases) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_enroll(cases, biden_only, key):
    case = cases[key]
    before = biden_only.read_bytes()
    done = cli("enroll", PERSON, case.path, faces=biden_only)
    if case.refused:
        assert_bad_input(done, str(case.path), case.refused)
    elif case.faces != 1:
        assert_bad_input(done, str(case.path), "no face found" if case.faces == 0 else f"{case.faces} faces found")
    else:
        assert done.returncode == 0, done.stderr
        people = json.loads(cli("people", "--json", faces=biden_only).stdout)
        assert people == [{"name": "Joe Biden", "encodings": 1}, {"name": PERSON, "encodings": 1}]
        return
    assert biden_only.read_bytes() == before
    assert not [p for p in biden_only.parent.iterdir() if p.suffix == ".tmp"]


@pytest.mark.parametrize("key", KEYS)
def test_identify(cases, registry, key):
    case = cases[key]
    before = registry.read_bytes()
    done = cli("identify", "--json", case.path, faces=registry)
    if case.refused:
        assert_bad_input(done, str(case.path), case.refused)
    else:
        assert done.returncode == 0, done.stderr
        names = sorted(face["name"] for face in json.loads(done.stdout)[0]["faces"])
        expected = [] if case.faces == 0 else [PERSON] if case.person else [PERSON, "Joe Biden"]
        assert names == expected
    assert registry.read_bytes() == before


def test_one_bad_image_among_good_ones_refuses_the_whole_enrollment(cases, biden_only):
    before = biden_only.read_bytes()
    done = cli("enroll", PERSON, photos("barack_obama")[0], cases["truncated JPEG"].path, faces=biden_only)
    assert_bad_input(done, "truncated")
    assert biden_only.read_bytes() == before
    identify = cli(
        "identify", "--json", photos("barack_obama")[0], cases["text file named .jpg"].path, faces=biden_only
    )
    assert_bad_input(identify, "not an image")  # no half-printed JSON document either


def _zero_frame_video(path: Path) -> Path:
    """A well-formed AVI container holding no frame at all."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    writer.release()
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "file not found"),
        ("text", "not a video"),
        ("empty", "not a video"),
        ("zero frames", "has no frames"),
        ("directory", "not a file"),
    ],
)
def test_analyze_refuses_bad_videos(tmp_path, kind, reason):
    path = {
        "missing": tmp_path / "missing.mp4",
        "text": tmp_path / "notes.mp4",
        "empty": tmp_path / "empty.mp4",
        "directory": tmp_path,
    }.get(kind)
    if kind == "text":
        path.write_text("not a video\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zero frames":
        path = _zero_frame_video(tmp_path / "zero.avi")
    assert_bad_input(cli("analyze", path, "--json", faces=tmp_path / "faces.pkl"), reason)
