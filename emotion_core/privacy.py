"""The privacy notice, one text for the app's pages and the session reports."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from .config import Settings


def safe_db_url(url: str) -> str:
    """The database URL with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as its scheme only
        return url.split("://", 1)[0] + "://…"


def privacy_paragraphs(config: Settings) -> list[tuple[str, str]]:
    """The notice as (bold lead, text) paragraphs; `code` spans are marked with backticks."""
    return [
        (
            "Your data stays on this machine.",
            f"Enrolled faces are stored as face encodings in `{config.faces_path}`; emotion records (sessions "
            f"and per-second observations) in `{safe_db_url(config.db_url)}`. Camera video and uploaded videos "
            "are analysed on this machine and never sent elsewhere; an uploaded video is deleted once analysed.",
        ),
        (
            "Deleting it.",
            "Delete a person on the *Enroll* page (this also deletes their emotion records); delete one session "
            "or every record on the *History* page, or with **Delete all emotion records** in the sidebar of the "
            "live page. Deleting the two files removes everything.",
        ),
        (
            "Legal limits.",
            "Since 2 February 2025 the EU AI Act, Article 5(1)(f), prohibits AI systems that infer the emotions "
            "of people in the workplace and in education institutions, except for medical or safety reasons. Do "
            "not use this app for that, and only analyse people who agreed to it.",
        ),
    ]


def privacy_markdown(config: Settings) -> str:
    """The notice as Markdown."""
    return "\n\n".join(f"**{lead}** {text}" for lead, text in privacy_paragraphs(config))
