"""Streamlit wiring shared by `app.py` and its pages (`ui/pages/`): cached resources, the camera, shared widgets.

Only this package and the pages import streamlit; all product logic lives in `emotion_core`.
"""
