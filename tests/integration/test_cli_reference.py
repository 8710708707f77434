"""The command-line reference in docs/user-guide.md names every command, option and choice that `--help` shows."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from emotion_core.cli import build_parser
from tests.data import PROJECT_ROOT

GUIDE = PROJECT_ROOT / "docs" / "user-guide.md"


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf command with its words (`("models", "status")`) and parser."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
    for group in groups:
        for name, sub in group.choices.items():
            yield from commands(sub, (*path, name))


def synopsis(words: tuple[str, ...]) -> str:
    """The guide's command lines for `words` (a line ending in a backslash goes on)."""
    reference = GUIDE.read_text(encoding="utf-8").split("## Command-line reference", 1)[1]
    text = reference.replace("\\\n", " ")
    pattern = re.compile(r"python -m emotion_core " + re.escape(" ".join(words)) + r"(\s.*)?$")
    return "\n".join(line for line in text.splitlines() if pattern.search(line))


LEAVES = list(commands(build_parser()))


@pytest.mark.parametrize("words, parser", LEAVES, ids=[" ".join(words) for words, _ in LEAVES])
def test_the_guide_shows_every_option_and_choice_of_each_command(words, parser):
    lines = synopsis(words)
    assert lines, f"no synopsis of `{' '.join(words)}` in {GUIDE.name}"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        for flag in action.option_strings:
            if flag.startswith("--"):
                assert flag in lines, f"`{' '.join(words)}`: {flag} missing from {lines!r}"
        for choice in action.choices or ():
            assert re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", lines), (
                f"`{' '.join(words)}`: choice {choice!r} of {action.dest} missing from {lines!r}"
            )
