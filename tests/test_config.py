"""Configuration: the contract keys load; each kind of mistake names file, key and fix (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from trackerutil import REPO, tracker

from tracker.config import Backfill, load_config, parse_interval
from tracker.errors import ConfigError

CONTRACT = """
[storage]
database = "tracker.db"

[[wikis]]
name = "local"
api_url = "http://127.0.0.1:8080/api.php"   # full api.php URL; https for real wikis

[[watches]]
wiki = "local"
title = "Pakistan–NATO relations"
interval = "15m"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_contract_keys_load(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONTRACT))
    assert config.database_path == tmp_path / "tracker.db"
    assert config.wikis[0].api_url == "http://127.0.0.1:8080/api.php"
    assert config.wikis[0].script_url == "http://127.0.0.1:8080/index.php"
    watch = config.watches[0]
    assert (watch.wiki, watch.title, watch.interval) == ("local", "Pakistan–NATO relations", 900)
    assert watch.backfill == Backfill("all")


def test_config_shipped_file_loads_offline() -> None:
    config = load_config(REPO / "config.toml")
    snapshot_wikis = [w for w in config.wikis if w.snapshot]
    assert snapshot_wikis and config.resolve(snapshot_wikis[0].snapshot).is_file()
    assert [w.title for w in config.watches] == ["Pakistan–NATO relations"]
    assert config.watches[0].wiki == snapshot_wikis[0].name
    # The live watch is there, one commented line away.
    live = [
        line
        for line in (REPO / "config.toml").read_text().splitlines()
        if 'everybodywiki"' in line and line.lstrip().startswith("#")
    ]
    assert len(live) == 1 and "Pakistan–NATO relations" in live[0]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        (2.5, 2.5),
        ("90s", 90),
        ("15m", 900),
        ("6h", 21600),
        ("1d", 86400),
        ("45", 45),
    ],
)
def test_config_interval_forms(value: object, seconds: float) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("all", Backfill("all")),
        ("none", Backfill("none")),
        ("from-now", Backfill("none")),
        (50, Backfill("last", 50)),
        ("last 20", Backfill("last", 20)),
    ],
)
def test_config_backfill_forms(value: object, expected: Backfill) -> None:
    assert Backfill.parse(value) == expected


BAD = {
    "unknown key with suggestion": (
        CONTRACT.replace('interval = "15m"', 'intervall = "15m"'),
        "watches[0].intervall: unknown key; did you mean 'interval'?",
    ),
    "unknown top-level table": (
        CONTRACT + "\n[storag]\ndatabase = 'x.db'\n",
        "config.storag: unknown key; did you mean",
    ),
    "wrong type": (
        CONTRACT.replace('title = "Pakistan–NATO relations"', "title = 42"),
        "watches[0].title: expected a string, got an integer",
    ),
    "bad interval": (
        CONTRACT.replace('"15m"', '"soon"'),
        "watches[0].interval: 'soon' is not an interval",
    ),
    "negative interval": (CONTRACT.replace('"15m"', "-5"), "an interval must be positive"),
    "bad backfill": (
        CONTRACT + 'backfill = "lots"\n',
        "watches[0].backfill: 'lots' is not a backfill policy",
    ),
    "unknown wiki": (
        CONTRACT.replace('wiki = "local"', 'wiki = "lokal"'),
        "watches[0].wiki: no wiki named 'lokal'; did you mean 'local'?",
    ),
    "missing title": (
        CONTRACT.replace('title = "Pakistan–NATO relations"\n', ""),
        "watches[0].title: missing; give the page's title, or a watch set: category, prefix",
    ),
    "not an api url": (
        CONTRACT.replace("http://127.0.0.1:8080/api.php", "127.0.0.1:8080"),
        "wikis[0].api_url: '127.0.0.1:8080' is not an http(s) URL",
    ),
    "neither api_url nor snapshot": (
        CONTRACT.replace('api_url = "http://127.0.0.1:8080/api.php"', ""),
        "wikis[0]: give exactly one of api_url",
    ),
    "snapshot file missing": (
        CONTRACT.replace('api_url = "http://127.0.0.1:8080/api.php"', 'snapshot = "nope.xml"'),
        "wikis[0].snapshot: file 'nope.xml' not found",
    ),
    "duplicate watch": (
        CONTRACT + '\n[[watches]]\nwiki = "local"\ntitle = "Pakistan–NATO relations"\n',
        "watches[1]: 'Pakistan–NATO relations' on 'local' is watched twice",
    ),
    "a slash in a wiki's name": (
        CONTRACT.replace('name = "local"', 'name = "de/wiki"').replace(
            'wiki = "local"', 'wiki = "de/wiki"'
        ),
        "wikis[0].name: 'de/wiki': a wiki's name is not blank and has no '/'",
    ),
    "not toml": ("[storage\n", "not valid TOML"),
    "login without password_env": (
        CONTRACT.replace('name = "local"', 'name = "local"\nlogin = { username = "Bot@x" }'),
        "wikis[0].login.password_env: missing",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_config_error_names_file_key_and_fix(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)
    result = tracker(path, "status")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0]
    assert "Traceback" not in result.output


def test_config_missing_file_exit_2(tmp_path: Path) -> None:
    result = tracker(tmp_path / "absent.toml", "run", "--once")
    assert result.exit_code == 2
    assert "no such config file" in result.output


def test_config_login_password_from_environment(tmp_path: Path, monkeypatch) -> None:
    path = write(
        tmp_path,
        CONTRACT.replace(
            'name = "local"',
            'name = "local"\nlogin = { username = "Bot@x", password_env = "WT_PW" }',
        ),
    )
    login = load_config(path).wikis[0].login
    assert login is not None
    monkeypatch.delenv("WT_PW", raising=False)
    with pytest.raises(ConfigError, match="WT_PW"):
        login.password()
    monkeypatch.setenv("WT_PW", "s3cret")
    assert login.password() == "s3cret"


@pytest.mark.parametrize(
    "name, code",
    [
        ("a\x00b", "0000"),
        ("a\rb", "000D"),
        ("a\nb", "000A"),
        ("ok\r\nBcc: x", "000D"),
        ("a\x1b[31mb", "001B"),
        ("a\x85b", "0085"),
        ("a\u2028b", "2028"),
        ("gnp.\u202eexe", "202E"),
        ("a\u2066b", "2066"),
    ],
)
def test_config_subscription_name_with_control_characters_is_refused(
    tmp_path: Path, name: str, code: str
) -> None:
    from trackerutil import toml_value

    path = write(tmp_path, CONTRACT + f"\n[[subscriptions]]\nname = {toml_value(name)}\n")
    with pytest.raises(
        ConfigError,
        match=rf"subscriptions\[0\]\.name: contains the control "
        rf"character U\+{code}; give a name of visible",
    ):
        load_config(path)
    result = tracker(path, "status")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert "subscriptions[0].name" in result.output
    assert not any(ch in result.output for ch in "\x00\r\x1b\x85\u2028\u202e\u2066")
