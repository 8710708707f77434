"""Database commands: db upgrade."""

from __future__ import annotations

import argparse

from ..db import safe_url, upgrade_url
from . import settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the database commands to the parser."""
    database = commands.add_parser("db", help="database maintenance")
    what = database.add_subparsers(dest="db_command", required=True, metavar="WHAT")
    upgrade = what.add_parser("upgrade", help="create or upgrade the tables to the newest schema (safe to repeat)")
    upgrade.set_defaults(handler=cmd_upgrade)


def cmd_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    changed = upgrade_url(settings.db_url, settings.db_timeouts)
    print(f"{safe_url(settings.db_url)}: {'upgraded to' if changed else 'already at'} the newest schema")
    return 0
