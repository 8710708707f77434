"""Scenario 6: START/STOP the camera ten times in a row; every START delivers frames.

Guards against streamlit-webrtc 0.79's START race (see ../shared/README.md), which stops the
server's worker right after the connection is made.
"""

from tests.e2e.e2e_page import wait_until

ROUNDS = 10
FRAMES_PER_START = 5


def test_every_start_delivers_frames(enrolled, open_app):
    app = open_app(enrolled, "obama")
    frames = app.wait_figures(lambda f: True, "the live figures").frames
    for round_ in range(1, ROUNDS + 1):
        app.start_camera()
        frames = app.wait_frames(frames + FRAMES_PER_START).frames
        # Frames come back from the server too: the returned (annotated) video plays.
        video = app.camera.locator("video")
        wait_until(
            lambda video=video: video.evaluate("v => [v.videoWidth, v.currentTime]"),
            lambda seen: min(seen) > 0,
            f"the returned video to play (START {round_})",
        )
        app.stop_camera()
