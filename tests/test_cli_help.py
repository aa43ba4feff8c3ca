"""Every command explains itself: help text with an example (sqlite-utils' rule)."""

from __future__ import annotations

import typer.main

from crawler.cli import app


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield path, cmd


def test_every_command_has_help_with_an_example():
    root = typer.main.get_command(app)
    found = list(_commands(root))
    assert len(found) >= 2
    missing = [" ".join(p) for p, cmd in found if "Example: markwatch" not in (cmd.help or "")]
    assert missing == [], f"commands without help and example: {missing}"
