"""Account commands: users add, list, remove, passwd (see docs/access-control.md)."""

from __future__ import annotations

import argparse
import sys

from ..accounts import AccountError, Accounts
from ..config import ROLES
from . import audit, print_json, settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the `users` command and its subcommands to the parser."""
    users = commands.add_parser("users", help="manage the sign-in accounts of the app")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION", parser_class=type(users))

    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", help="list the accounts and their roles")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_list)

    remove = actions.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remove)

    passwd = actions.add_parser("passwd", help="set a new password (signs the account out everywhere)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    passwd.set_defaults(handler=cmd_passwd)


def read_password(args: argparse.Namespace) -> str:
    """One line of stdin without its line ending; `AccountError` without --password-stdin or input."""
    if not args.password_stdin:
        raise AccountError("give the password on stdin with --password-stdin (never on the command line)")
    line = sys.stdin.readline()
    if not line:
        raise AccountError("no password on stdin")
    return line.removesuffix("\n").removesuffix("\r")


def cmd_add(args: argparse.Namespace) -> int:
    password = read_password(args)
    account = Accounts(settings_from(args).db_url).add(args.name, args.role, password)
    audit(args, "account-add", account.name, f"role {account.role}")
    print(f"added {account.name} ({account.role})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    accounts = Accounts(settings_from(args).db_url).list()
    if args.json:
        print_json([{"name": a.name, "role": a.role} for a in accounts])
    elif not accounts:
        print("no accounts")
    else:
        for account in accounts:
            print(f"{account.name}\t{account.role}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    Accounts(settings_from(args).db_url).remove(args.name)
    audit(args, "account-remove", args.name)
    print(f"removed {args.name}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    password = read_password(args)
    Accounts(settings_from(args).db_url).set_password(args.name, password)
    audit(args, "account-passwd", args.name)
    print(f"changed the password of {args.name}")
    return 0
