"""The privacy notice, one text for the app's pages and the session reports."""

from __future__ import annotations

from .config import Settings
from .db import safe_url


def privacy_paragraphs(config: Settings) -> list[tuple[str, str]]:
    """The notice as (bold lead, text) paragraphs; `code` spans are marked with backticks."""
    database = safe_url(config.db_url)
    if config.db_url.startswith("sqlite"):
        where, faces = "on this machine", f"`{config.faces_path}`"
    else:  # a database server holds the registry too (several app servers share it)
        where, faces = "in your database", f"the database `{database}`"
    return [
        (
            f"Your data stays {where}.",
            f"Enrolled faces are stored as face encodings in {faces}; emotion records (sessions "
            f"and per-second observations) in `{database}`. Camera video and uploaded videos "
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
