"""Scenario 1: enroll Barack Obama and Joe Biden by uploading their photos on the Enroll page."""

from playwright.sync_api import expect

from emotion_core.registry import load_registry
from tests.e2e.e2e_page import read_table, wait_until


def test_enroll_two_people_by_upload(server, open_app, enrollment):
    app = open_app(server, "two_people", "Enroll")
    page = app.page
    for name, images in enrollment.items():
        name_box = page.get_by_role("textbox", name="Name")
        expect(name_box).to_have_value("")  # a fresh form (the previous success reset it)
        name_box.fill(name)
        name_box.press("Enter")
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in images])
        for image in images:
            expect(page.get_by_role("button", name=f"Remove {image.name}")).to_be_visible()
        app.wait_loaded()
        page.get_by_role("button", name="Enroll", exact=True).click()
        expect(page.get_by_text(f"Enrolled {name} with {len(images)} face encoding(s).")).to_be_visible()
        app.wait_loaded()

    expected = {name: str(len(images)) for name, images in enrollment.items()}
    wait_until(
        lambda: {row["Person"]: row["Encodings"] for row in read_table(page.locator(".st-key-people-table"))},
        lambda shown: shown == expected,
        "both people in the enrolled list",
    )
    assert load_registry(server.faces_path).people() == {name: len(images) for name, images in enrollment.items()}
