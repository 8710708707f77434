"""`python -m emotion_core`: the command-line interface.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 unexpected error.
Each submodule registers its commands with `register(commands, eval_commands)`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Settings, load_settings
from ..errors import EmotionCoreError

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2
CLIENT = "command line"
"""Where the audit log says a command-line action came from."""

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors exit with code 2 and one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def print_json(document: Any) -> None:
    """Print exactly one JSON document on stdout."""
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def one_line(exc: BaseException) -> str:
    """The exception's message on a single line (file names or decoder messages may hold newlines)."""
    return " ".join(str(exc).split())


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings from the environment plus the global CLI options."""
    return load_settings(faces_path=args.faces, **overrides)


def actor() -> str:
    """Who runs the command line, as the audit log names them: "USER (command line)"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        user = f"uid {os.getuid()}"
    return f"{user} ({CLIENT})"


def audit(args: argparse.Namespace, action: str, subject: str = "", detail: str = "") -> None:
    """Record a command-line action that succeeded in the audit log; a database that refuses the
    entry is a warning on stderr (the action is done)."""
    from ..audit import AuditLog

    try:
        AuditLog(settings_from(args).db_url).record(actor(), action, subject=subject, client=CLIENT, detail=detail)
    except EmotionCoreError as exc:
        print(f"warning: {action} not recorded in the audit log: {one_line(exc)}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered command."""
    parser = _Parser(prog="python -m emotion_core", description="Face and emotion recognition tools.")
    parser.add_argument(
        "--faces",
        metavar="PATH",
        default=None,
        help="face registry file (default: faces.pkl in the project root; env EMOTION_FACES)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    evaluate = commands.add_parser("eval", help="measure accuracy on a labelled folder")
    eval_commands = evaluate.add_subparsers(dest="eval_command", required=True, metavar="WHAT", parser_class=_Parser)
    for module in _command_modules():
        module.register(commands, eval_commands)
    return parser


def _command_modules() -> list:
    import importlib

    names = ("faces", "emotions", "live", "calibrate", "bench", "database", "users")
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return modules


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
        )
        return int(args.handler(args) or EXIT_OK)
    except EmotionCoreError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # last resort: one line unless --verbose
        if "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv):
            raise
        print(f"unexpected error: {type(exc).__name__}: {one_line(exc)} (run with -v for details)", file=sys.stderr)
        return EXIT_ERROR
