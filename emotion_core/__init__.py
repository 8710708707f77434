"""Face and emotion recognition with confidence scoring: all logic, no Streamlit.

Modules: config, labels, errors, images, registry, recognition, emotions, models, tracking,
scoring, analyzer, live, store, cli. Import the one you need; heavy models load on import of
`recognition` and `emotions` only.
"""

__version__ = "0.1.0"
