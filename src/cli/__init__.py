"""The `mosaic` command: one entry point, one sub-command per use."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mosaic",
        description="Mosaic Studio: coloring pages, color by number and mystery mosaics, paid in credits.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from mosaic.cli.admin import add_admin_commands
    from mosaic.cli.audit import add_audit_commands
    from mosaic.cli.generate import add_generate_command
    from mosaic.cli.support import add_support_commands

    add_admin_commands(commands)
    add_audit_commands(commands)
    add_support_commands(commands)
    add_generate_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
