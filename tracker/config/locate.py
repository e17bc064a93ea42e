"""Where the config file is looked for when none is named: ``./config.toml``, then the user's
config directory (``$XDG_CONFIG_HOME/wiki-tracker/config.toml``, by default
``~/.config/wiki-tracker/config.toml``), as the XDG Base Directory spec says."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tracker.errors import ConfigError

CONFIG_NAME = "config.toml"
APP_DIR = "wiki-tracker"


def user_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/wiki-tracker``; ``~/.config/wiki-tracker`` when it is unset."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    # The spec: a relative path in $XDG_CONFIG_HOME is invalid and is ignored.
    if base and Path(base).is_absolute():
        root = Path(base)
    else:
        home = env.get("HOME")
        root = (Path(home) if home else Path.home()) / ".config"
    return root / APP_DIR


def config_candidates(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> list[Path]:
    """The places a config is looked for, in order."""
    here = Path.cwd() if cwd is None else cwd
    return [here / CONFIG_NAME, user_config_dir(env) / CONFIG_NAME]


def find_config(
    named: Path | None, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The config file to read: the one named (``--config``), else the first that exists."""
    if named is not None:
        return named
    candidates = config_candidates(cwd, env)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    places = " and ".join(str(c) for c in candidates)
    raise ConfigError(
        f"no config file: looked for {places}; "
        "create one with `tracker init` (or pass --config FILE)"
    )
