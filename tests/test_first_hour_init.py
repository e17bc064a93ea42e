"""The first hour: `tracker init`, where the config is looked for, the `wiki-tracker` command,
what the wheel and sdist hold, and the daemon lock without fcntl."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from trackerutil import REPO, SEED_SNAPSHOT, SEED_TITLE

from tracker.cli import main
from tracker.config import load_config
from tracker.config.locate import config_candidates, find_config, user_config_dir
from tracker.config.starter import example_config
from tracker.errors import ConfigError

LIVE_WATCH = '# { wiki = "everybodywiki", title = "Pakistan–NATO relations", interval = "6h" },'


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user config directory of the test's own, empty: the real one is never read."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    return xdg


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def process(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=120, cwd=cwd, env=env or os.environ
    )


def assert_ran_and_reports(run: str, status: str) -> None:
    """The output of `run --once` and `status` on a fresh init: the whole seed history."""
    assert "everybodywiki-snapshot: 1 pages checked, 1 changed, 16 revisions stored" in run
    assert "seed-article: digest 1 via file" in run
    assert f"everybodywiki-snapshot: {SEED_TITLE}" in status
    assert "status:        ok" in status
    assert "revisions:     16" in status


# ---- tracker init ----------------------------------------------------------------------


def test_init_fresh_directory_runs_offline_and_reports(tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    result = cli("init", str(target))
    assert result.exit_code == 0, result.output
    config = target / "config.toml"
    assert config.read_text(encoding="utf-8") == example_config()
    copied = target / "snapshots" / "pakistan-nato-relations.xml"
    assert copied.read_bytes() == SEED_SNAPSHOT.read_bytes()
    assert f"--config {config} run --once" in result.output

    run = cli("--config", str(config), "run", "--once")
    assert run.exit_code == 0, run.output
    status = cli("--config", str(config), "status")
    assert status.exit_code == 0, status.output
    assert_ran_and_reports(run.output, status.output)
    # Relative paths in the config are relative to its folder, not to the working directory.
    assert (target / "tracker.db").is_file()
    assert len(list((target / "digests").glob("seed-article-*.html"))) == 1


def test_init_template_says_the_seed_history_is_made_up_and_the_live_wiki_is_one_line_away(
    tmp_path: Path,
) -> None:
    text = example_config()
    assert "MADE UP FOR THE DEMO" in text
    assert text.count(LIVE_WATCH) == 1
    assert cli("init", str(tmp_path)).exit_code == 0
    path = tmp_path / "config.toml"
    offline = load_config(path)
    assert [w.wiki for w in offline.watches] == ["everybodywiki-snapshot"]

    path.write_text(text.replace(LIVE_WATCH, LIVE_WATCH.removeprefix("# ")), encoding="utf-8")
    live = load_config(path)
    assert [w.wiki for w in live.watches] == ["everybodywiki-snapshot", "everybodywiki"]
    assert live.wiki("everybodywiki").api_url == "https://en.everybodywiki.com/api.php"


def test_init_refuses_to_overwrite_then_force(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n", encoding="utf-8")
    refused = cli("init", str(tmp_path))
    assert refused.exit_code == 2
    assert refused.output.splitlines() == [
        f"Error: {config} exists already: keep it, or overwrite it with --force"
    ]
    assert config.read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "snapshots").exists()

    forced = cli("init", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert config.read_text(encoding="utf-8") == example_config()


def test_init_snapshot_other_than_the_bundled_one_is_kept(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshots" / "pakistan-nato-relations.xml"
    snapshot.parent.mkdir()
    snapshot.write_text("<mediawiki/>", encoding="utf-8")
    refused = cli("init", str(tmp_path))
    assert refused.exit_code == 2
    assert len(refused.output.splitlines()) == 1
    assert "is not the bundled one" in refused.output
    assert snapshot.read_text(encoding="utf-8") == "<mediawiki/>"
    assert not (tmp_path / "config.toml").exists()

    # The bundled snapshot itself (an earlier init) is no reason to refuse.
    snapshot.write_bytes(SEED_SNAPSHOT.read_bytes())
    assert cli("init", str(tmp_path)).exit_code == 0


def test_init_as_a_process_then_run_and_status(tmp_path: Path) -> None:
    python = [sys.executable, "-m", "tracker"]
    init = process(*python, "init", "site", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "Next: " in init.stdout
    config = str(tmp_path / "site" / "config.toml")
    run = process(*python, "--config", config, "run", "--once", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    status = process(*python, "--config", config, "status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert_ran_and_reports(run.stdout, status.stdout)


def test_init_wiki_tracker_command_here_then_run_without_config(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "wiki-tracker"
    assert command.is_file(), f"{command} missing: install the project (pip install -e .)"
    init = process(str(command), "init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    # Written where the config is looked for: the hint needs no --config, and names the
    # command as it was called.
    assert "Next: wiki-tracker run --once, then wiki-tracker status" in init.stdout
    run = process(str(command), "run", "--once", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    status = process(str(command), "status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert_ran_and_reports(run.stdout, status.stdout)


# ---- where the config is looked for ----------------------------------------------------


def test_discovery_working_directory_before_user_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _no_user_config: Path
) -> None:
    user_dir = _no_user_config / "wiki-tracker"
    here = tmp_path / "here"
    assert cli("init", str(user_dir)).exit_code == 0
    assert cli("init", str(here)).exit_code == 0
    monkeypatch.chdir(here)
    result = cli("run", "--once")
    assert result.exit_code == 0, result.output
    assert (here / "tracker.db").is_file()
    assert not (user_dir / "tracker.db").exists()


def test_discovery_user_dir_from_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _no_user_config: Path
) -> None:
    user_dir = _no_user_config / "wiki-tracker"
    assert cli("init", str(user_dir)).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("run", "--once")
    assert result.exit_code == 0, result.output
    # The database sits beside the config found, not in the working directory.
    assert (user_dir / "tracker.db").is_file()
    assert list(elsewhere.iterdir()) == []
    status = cli("status")
    assert "revisions:     16" in status.output


def test_discovery_user_dir_default_is_dot_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert user_config_dir({"HOME": str(home)}) == home / ".config" / "wiki-tracker"
    # The XDG spec: a relative $XDG_CONFIG_HOME is ignored.
    relative = {"HOME": str(home), "XDG_CONFIG_HOME": "relative/dir"}
    assert user_config_dir(relative) == home / ".config" / "wiki-tracker"
    absolute = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "x")}
    assert config_candidates(tmp_path, absolute) == [
        tmp_path / "config.toml",
        tmp_path / "x" / "wiki-tracker" / "config.toml",
    ]


def test_discovery_nothing_found_names_the_places_and_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _no_user_config: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("status")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"Error: no config file: looked for {tmp_path / 'config.toml'} and "
        f"{_no_user_config / 'wiki-tracker' / 'config.toml'}; "
        "create one with `tracker init` (or pass --config FILE)"
    ]
    with pytest.raises(ConfigError):
        find_config(None, tmp_path, {"XDG_CONFIG_HOME": str(_no_user_config)})


def test_discovery_named_config_is_never_replaced_by_a_found_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "other.toml"
    for args in (["--config", str(missing), "status"], ["status", "--config", str(missing)]):
        result = cli(*args)
        assert result.exit_code == 2
        assert f"{missing}: no such config file" in result.output
        assert "tracker init" in result.output
    monkeypatch.setenv("TRACKER_CONFIG", str(missing))
    assert "no such config file" in cli("status").output


# ---- packaging -------------------------------------------------------------------------

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "tracker", "templates", "snapshots")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheel and sdist, built from a copy of the sources (never in the source tree)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(
                origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    out = work / "dist"
    # The PEP 517 hooks pip calls, with this environment's setuptools: no network needed.
    # One process per hook, as pip and build call them.
    for hook in ("build_wheel", "build_sdist"):
        call = f"import sys; from setuptools import build_meta; build_meta.{hook}(sys.argv[1])"
        done = process(sys.executable, "-c", call, str(out), cwd=source)
        assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "work": work}


def test_wheel_holds_license_template_seed_and_both_commands(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        template = wheel.read("tracker/config/example.toml").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert "tracker/snapshots/pakistan-nato-relations.xml" in names
    assert "tracker/templates/digest.html.j2" in names
    assert template == example_config()
    assert "tracker = tracker.cli:main" in entry_points
    assert "wiki-tracker = tracker.cli:main" in entry_points
    assert "License-Expression: MIT" in metadata
    assert "Author: wiki tracker developers" in metadata
    assert "Classifier: Topic :: Internet :: WWW/HTTP :: Dynamic Content :: Wiki" in metadata
    assert "Project-URL: Repository, " in metadata


def test_sdist_holds_license_template_and_seed(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for name in (
        "LICENSE",
        "tracker/config/example.toml",
        "snapshots/pakistan-nato-relations.xml",
    ):
        assert name in names


def test_wheel_installed_init_finds_its_own_seed_and_runs(built: dict[str, Path]) -> None:
    """From the unpacked wheel alone (no source checkout beside it), init and run work."""
    site = built["work"] / "site"
    with zipfile.ZipFile(built["wheel"]) as wheel:
        wheel.extractall(site)
    home = built["work"] / "home"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CONFIG_HOME": str(home / "xdg")}
    where = process(
        sys.executable, "-c", "import tracker; print(tracker.__file__)", cwd=home, env=env
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    init = process(sys.executable, "-m", "tracker", "init", "cfg", cwd=home, env=env)
    assert init.returncode == 0, init.stderr
    assert (home / "cfg" / "snapshots" / "pakistan-nato-relations.xml").read_bytes() == (
        site / "tracker" / "snapshots" / "pakistan-nato-relations.xml"
    ).read_bytes()
    config = str(home / "cfg" / "config.toml")
    run = process(
        sys.executable, "-m", "tracker", "--config", config, "run", "--once", cwd=home, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "16 revisions stored" in run.stdout


# ---- the daemon lock where there is no fcntl -------------------------------------------

WITHOUT_FCNTL = "import sys; sys.modules['fcntl'] = None; from tracker.cli import main; main()"


def test_lock_without_fcntl_says_posix_in_one_line(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    config = str(tmp_path / "config.toml")
    daemon = process(
        sys.executable, "-c", WITHOUT_FCNTL, "--config", config, "daemon", cwd=tmp_path
    )
    assert daemon.returncode == 1
    assert daemon.stderr.splitlines() == [
        "Error: the daemon lock needs a POSIX system (Linux, macOS, BSD): this Python has no "
        "fcntl; run `tracker run --once` from a scheduler instead of `tracker daemon`"
    ]
    # The other commands work there; status (which asks the lock who runs) on a database.
    assert cli("--config", config, "run", "--once").exit_code == 0
    status = process(
        sys.executable, "-c", WITHOUT_FCNTL, "--config", config, "status", cwd=tmp_path
    )
    assert status.returncode == 0, status.stderr
    assert "daemon: not running" in status.stdout
