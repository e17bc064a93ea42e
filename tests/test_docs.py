"""The README documents every command, every option and every config key."""

from __future__ import annotations

import dataclasses

import click
import pytest
from trackerutil import REPO

from tracker import config as cfg
from tracker.cli import main

README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "tracker") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        out.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            out += commands(command, f"{prefix} {name}")
    return out


@pytest.mark.parametrize(("name", "command"), commands(main), ids=lambda v: str(v))
def test_docs_every_command_and_option_is_in_the_readme(name: str, command: click.Command) -> None:
    assert f"`{name}" in README, f"{name} is not documented"
    if isinstance(command, click.Group):
        return
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "config_override":
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in README, f"{name} {opt} is not documented"


SECTIONS = {
    "storage": cfg.Storage,
    "wikis[]": cfg.Wiki,
    "watches[]": cfg.Watch,
    "subscriptions[]": cfg.Subscription,
    "daemon": cfg.Daemon,
    "web": cfg.Web,
}


@pytest.mark.parametrize("section", list(SECTIONS))
def test_docs_every_config_key_is_in_the_readme(section: str) -> None:
    for field in dataclasses.fields(SECTIONS[section]):
        assert f"`{section}.{field.name}`" in README, f"{section}.{field.name} not documented"


def test_docs_every_filter_and_channel_is_in_the_readme() -> None:
    from tracker.digest.channels import CHANNELS

    for field in dataclasses.fields(cfg.Filters):
        assert f"`{field.name}" in README, f"filters.{field.name} not documented"
    for name in CHANNELS:
        assert f"| `{name}` |" in README, f"channel {name} not documented"
