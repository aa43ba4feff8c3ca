"""Every command explains itself: help text with an example (sqlite-utils' rule)."""

from __future__ import annotations

import os
import subprocess

import typer.main

from crawler.cli import app
from tests.conftest import DEMO_CONFIG, MARKWATCH


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


def test_piped_tables_keep_each_row_on_one_line():
    # Cron mails and `| less` get no terminal width: rows must not wrap at 80 columns.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run(
        [str(MARKWATCH), "check", "--config", str(DEMO_CONFIG)],
        check=False, capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if "lumora-logo" in line and "trademark" in line]
    assert rows and "LUMORA ring-and-triangle logo" in rows[0] and "Lumora Audio Co., Ltd." in rows[0]
