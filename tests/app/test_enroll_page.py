"""The Enroll page under AppTest: enrollment from uploads and snapshots, every refusal, deletion."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from emotion_core.registry import load_registry
from emotion_core.store import EmotionLog
from tests.app.apphelpers import PERSON, PERSON_DIR, button, labels_of, record_session, texts
from tests.data import GROUPS, photos

ENROLL = "ui/pages/enroll.py"


def upload(path) -> tuple[str, bytes, str]:
    mime = "image/png" if path.suffix == ".png" else "image/jpeg"
    return path.name, path.read_bytes(), mime


def submit(at, name: str, files: list[tuple[str, bytes, str]]):
    at.text_input[0].set_value(name)
    at.file_uploader[0].set_value(files)
    return button(at, "Enroll").click().run()


def people_table(at) -> dict[str, int]:
    tables = [d.value for d in at.dataframe]
    return dict(zip(tables[0]["Person"], tables[0]["Encodings"])) if tables else {}


@pytest.mark.requires_data
def test_enroll_from_several_uploads(page, faces_path):
    at = page(ENROLL)
    assert [t.value for t in at.title] == ["Enroll"]
    assert "Nobody is enrolled yet." in texts(at)
    at = submit(at, PERSON, [upload(p) for p in photos(PERSON_DIR)[:2]])
    assert not at.exception and not at.error
    assert f"Enrolled {PERSON} with 2 face encoding(s)." in [s.value for s in at.success]
    assert people_table(at) == {PERSON: 2}
    assert load_registry(faces_path).people() == {PERSON: 2}
    assert at.text_input[0].value == "", "the form starts empty after a success"


@pytest.mark.requires_data
def test_enroll_from_a_camera_snapshot(page, faces_path):
    at = page(ENROLL)
    at.text_input[0].set_value("Eileen Collins")
    assert at.camera_input == [], "the camera is only asked for on request"
    at.toggle[0].set_value(True).run()
    # A camera snapshot is a JPEG; make one from the astronaut photo.
    snapshot = io.BytesIO()
    Image.open(photos("eileen_collins")[0]).convert("RGB").save(snapshot, "JPEG")
    at.camera_input[0].upload("camera.jpg", snapshot.getvalue())
    at = button(at, "Enroll").click().run()
    assert not at.error
    assert load_registry(faces_path).people() == {"Eileen Collins": 1}


def no_face_jpeg() -> bytes:
    """A real photo's sky-only corner: an image with no face in it."""
    image = Image.open(photos("eileen_collins")[0]).convert("RGB").crop((0, 0, 120, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.requires_data
@pytest.mark.parametrize(
    "files, reason",
    [
        (lambda: [("wall.jpg", no_face_jpeg(), "image/jpeg")], "no face found"),
        (lambda: [upload(GROUPS / "fr__two_people.jpg")], "2 faces found"),
        (lambda: [("broken.jpg", b"\xff\xd8\xff\xe0 this is not a JPEG", "image/jpeg")], "unreadable image"),
        # One bad file among good ones refuses the whole enrollment.
        (lambda: [upload(photos(PERSON_DIR)[0]), upload(GROUPS / "fr__two_people.jpg")], "2 faces found"),
    ],
    ids=["no-face", "two-faces", "unreadable", "one-bad-of-two"],
)
def test_refused_enrollment_stores_nothing(page, faces_path, files, reason):
    """`files` makes the uploads when the test runs (the photos may be absent at collection)."""
    at = submit(page(ENROLL), PERSON, files())
    assert not at.exception
    [error] = at.error
    assert "Nothing was stored." in error.value and reason in error.value
    assert not faces_path.exists()
    assert at.success == [] and people_table(at) == {}


@pytest.mark.requires_data
def test_empty_name_and_no_images_are_refused(page, faces_path):
    at = submit(page(ENROLL), "   ", [upload(photos(PERSON_DIR)[0])])
    assert "name is empty" in at.error[0].value
    at.text_input[0].set_value(PERSON)
    at.file_uploader[0].clear()
    at = button(at, "Enroll").click().run()
    assert "Add at least one photo" in at.error[0].value
    assert not faces_path.exists()


@pytest.mark.requires_data
def test_duplicate_face_is_refused_unless_forced(page, faces_path):
    first, second = photos(PERSON_DIR)[:2]
    at = submit(page(ENROLL), PERSON, [upload(first)])
    at = submit(at, "Someone Else", [upload(second)])
    assert f"matches the enrolled person '{PERSON}'" in at.error[0].value
    assert f'tick "{at.checkbox[0].label}"' in at.error[0].value  # the way out names the real checkbox
    assert load_registry(faces_path).people() == {PERSON: 1}
    at.checkbox[0].check()
    at = submit(at, "Someone Else", [upload(second)])
    assert not at.error
    assert load_registry(faces_path).people() == {PERSON: 1, "Someone Else": 1}


@pytest.mark.requires_data
def test_delete_person_needs_confirmation_and_deletes_their_records(page, enrolled, faces_path, db_url):
    record_session(db_url, [(PERSON, "Happy"), ("Joe Biden", "Sad"), (PERSON, "Neutral")], start=1_700_000_000)
    at = page(ENROLL)
    assert people_table(at) == {PERSON: len(photos(PERSON_DIR)) - 1}
    at.selectbox(key="forget_person").select(PERSON)
    at = button(at.run(), "Delete person").click().run()
    assert f"Yes, delete {PERSON}" in labels_of(at)
    at = button(at, "Cancel").click().run()
    assert PERSON in load_registry(faces_path).people()

    at = button(at, "Delete person").click().run()
    at = button(at, f"Yes, delete {PERSON}").click().run()
    assert not at.exception
    assert f"Deleted {PERSON} and 2 emotion record(s)." in [s.value for s in at.success]
    assert load_registry(faces_path).people() == {}
    log = EmotionLog(db_url)
    assert [o.person for o in log.observations()] == ["Joe Biden"]
    log.close()


def test_corrupt_registry_is_an_error_panel(page, faces_path):
    faces_path.write_bytes(b"garbage")
    at = page(ENROLL)
    assert not at.exception
    assert any("face registry cannot be read" in e.value for e in at.error)
