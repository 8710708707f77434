"""The app: its pages and their navigation (`streamlit run app.py`), behind the sign-in gate."""

import streamlit as st

from ui import auth, resources

# The navigation names the pages (without it the live page would be listed as "app"). The pages
# live outside a `pages/` folder: Streamlit would list that folder's files as the pages of a fresh
# server until this script has run once (a first visit straight at /Enroll showed "app").
# Each role sees the pages it may open, the first of them by default (docs/access-control.md).
PAGES = [
    auth.PageSpec("live", "ui/pages/live.py", "Live", ":material/videocam:"),
    auth.PageSpec("enroll", "ui/pages/enroll.py", "Enroll", ":material/person_add:", "Enroll"),
    auth.PageSpec("live", "ui/pages/video.py", "Video", ":material/movie:", "Video"),
    auth.PageSpec("history", "ui/pages/history.py", "History", ":material/history:", "History"),
    auth.PageSpec("access", "ui/pages/access.py", "Access", ":material/admin_panel_settings:", "Access"),
]
with auth.gate(resources.settings(), PAGES) as principal:
    st.navigation(auth.navigation(principal, PAGES)).run()
