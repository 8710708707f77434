"""The app: its pages and their navigation (`streamlit run app.py`)."""

import streamlit as st

# The navigation names the pages (without it the live page would be listed as "app"). The pages
# live outside a `pages/` folder: Streamlit would list that folder's files as the pages of a fresh
# server until this script has run once (a first visit straight at /Enroll showed "app").
st.navigation(
    [
        st.Page("ui/pages/live.py", title="Live", icon=":material/videocam:", default=True),
        st.Page("ui/pages/enroll.py", title="Enroll", icon=":material/person_add:", url_path="Enroll"),
        st.Page("ui/pages/video.py", title="Video", icon=":material/movie:", url_path="Video"),
        st.Page("ui/pages/history.py", title="History", icon=":material/history:", url_path="History"),
    ]
).run()
