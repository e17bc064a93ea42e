"""A real, throw-away MediaWiki on loopback for integration tests.

Each `TestWiki` is one wiki: Debian's MediaWiki tree (/usr/share/mediawiki) used in place,
with its LocalSettings.php, SQLite database, caches and logs in one directory of its own,
served by PHP's built-in web server on 127.0.0.1 (see
/work/shared/reference/mediawiki-test-wiki.md for the facts this rests on).

Installing takes about a second (install.php, the admin and its bot password, the
localisation cache), so it happens once per process, into a module-level "pristine"
directory; every wiki, the first included, is a copy of it. A later wiki costs a directory
copy and a server start: about 0.15 s.

    wiki = TestWiki.start(tmp_path / "wiki")
    revid = wiki.edit("Some page", "== Intro ==\\nText.")
    with wiki.down():
        ...  # connections to wiki.api_url are refused here
    wiki.stop()
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mwclient
import requests
from loopback import free_port
from waits import TimedOut, wait_until

MEDIAWIKI_DIR = Path("/usr/share/mediawiki")
DEBIAN_PACKAGES = ("mediawiki", "php-sqlite3", "php-cli", "php-intl", "php-mbstring", "php-xml")
INSTALL_COMMAND = (
    "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
    "--no-install-recommends " + " ".join(DEBIAN_PACKAGES)
)

ADMIN_USER = "Admin"
# Throw-away wikis on loopback only: fixed credentials keep failures reproducible.
ADMIN_PASSWORD = "tracker-test-admin-password"
BOT_APP_ID = "tests"
BOT_PASSWORD = "trackertestbotpassword0123456789"  # createBotPassword wants exactly 32 chars
BOT_GRANTS = (
    "basic,highvolume,editpage,createeditmovepage,delete,import,"
    "viewdeleted,oversight,protect,patrol,rollback"
)
USER_AGENT = "wiki-tracker-tests/0.1 (throw-away test wiki)"

START_TIMEOUT = 30.0  # seconds for a new server to answer siteinfo
STOP_TIMEOUT = 10.0
# PHP's built-in server handles one request at a time unless told to fork workers; a few
# workers let a test talk to the wiki while the code under test does too.
SERVER_WORKERS = 4

# Appended to the LocalSettings.php that install.php writes. Every path is relative to
# __DIR__, the wiki's own directory, so a copy of the directory is a working wiki.
LOCAL_SETTINGS_EXTRA = r"""
# ---- wiki tracker test settings (tests/mediawiki.py) ----
$wgCacheDirectory = __DIR__ . "/cache";
$wgUploadDirectory = __DIR__ . "/images";
$wgEnableUploads = false;
$wgEnableEmail = false;
$wgUseImageMagick = false;  # the machine's `convert` may be a stand-in

# Tests edit in bursts, anonymously too: no rate limits, no login throttle.
$wgRateLimits = [];
$wgGroupPermissions['*']['noratelimit'] = true;
$wgPasswordAttemptThrottle = false;

# Hiding revisions (action=revisiondelete) for admins and suppressors.
$wgGroupPermissions['sysop']['deleterevision'] = true;
$wgGroupPermissions['sysop']['deletedhistory'] = true;
$wgGroupPermissions['sysop']['deletedtext'] = true;
$wgGroupPermissions['suppress']['suppressrevision'] = true;
$wgGroupPermissions['suppress']['viewsuppressed'] = true;

$wgShowExceptionDetails = true;
$wgDebugLogGroups['exception'] = __DIR__ . "/logs/exception.log";
$wgDebugLogGroups['error'] = __DIR__ . "/logs/error.log";

# The wiki answers on whatever port it is (re)started on.
if ( PHP_SAPI === 'cli-server' ) {
	$wgServer = WebRequest::detectServer();
}
"""

# With a router script PHP's built-in server asks it first about every request; returning
# false serves the request as usual. The flag file turns the wiki into a 503 "maintenance"
# wiki without stopping the server (see TestWiki.unavailable).
ROUTER_PHP = r"""<?php
$flag = __DIR__ . '/unavailable';
if ( is_file( $flag ) ) {
	http_response_code( (int)trim( file_get_contents( $flag ) ) ?: 503 );
	header( 'Retry-After: 1' );
	header( 'Content-Type: text/plain' );
	echo "Test wiki made unavailable by tests/mediawiki.py\n";
	return true;
}
return false;
"""


class MediaWikiError(RuntimeError):
    """The test wiki could not be installed, started or driven."""


class PortInUseError(MediaWikiError):
    """Something else already listens on the wiki's port."""


def ensure_mediawiki_installed() -> None:
    """Make sure Debian's MediaWiki and PHP are installed; install them when running as root."""
    if (MEDIAWIKI_DIR / "maintenance" / "install.php").is_file() and shutil.which("php"):
        return
    if os.geteuid() != 0:
        raise MediaWikiError(
            f"MediaWiki and PHP are not installed (no {MEDIAWIKI_DIR} or no php). "
            "Install them as root with:\n"
            f"  sudo sh -c '{INSTALL_COMMAND}'\n"
            "or run scripts/install-system-deps.sh as root."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES],
        check=True,
        env=env,
    )


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _php(script: str, *args: str, conf: Path, timeout: float = 300) -> str:
    """Run a MediaWiki maintenance script against the wiki configured by `conf`."""
    name = script if script.endswith(".php") else f"{script}.php"
    command = ["php", str(MEDIAWIKI_DIR / "maintenance" / name), "--conf", str(conf), *args]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MW_CONFIG_FILE": str(conf)},
    )
    if result.returncode != 0:
        raise MediaWikiError(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


# ---- the pristine wiki, installed once per process -------------------------------------

_cache_lock = threading.Lock()
_cache_root: Path | None = None


def _cache() -> Path:
    """This process's cache directory, made on first use and removed at exit.

    It holds `wiki/`, the pristine installed wiki, and `opcache/`, PHP's compiled scripts
    shared by all servers: a server with a warm opcache answers its first request in half
    the time.
    """
    global _cache_root
    with _cache_lock:
        if _cache_root is None:
            ensure_mediawiki_installed()
            root = Path(tempfile.mkdtemp(prefix="wiki-tracker-mediawiki-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            _install(root / "wiki")
            (root / "opcache").mkdir()
            _cache_root = root
        return _cache_root


def _install(directory: Path) -> None:
    for sub in ("data", "cache", "images", "logs"):
        (directory / sub).mkdir(parents=True)
    port = free_port()
    install = [
        "php", str(MEDIAWIKI_DIR / "maintenance" / "install.php"),
        "--dbtype", "sqlite", "--dbpath", str(directory / "data"), "--dbname", "wiki",
        "--server", f"http://127.0.0.1:{port}", "--scriptpath", "",
        "--confpath", str(directory), "--lang", "en", "--pass", ADMIN_PASSWORD,
        "TestWiki", ADMIN_USER,
    ]  # fmt: skip
    result = subprocess.run(install, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise MediaWikiError(f"install.php failed:\n{result.stdout}\n{result.stderr}")
    conf = directory / "LocalSettings.php"
    settings = conf.read_text()
    # install.php writes the data directory as an absolute path; make it follow the copy.
    settings, count = re.subn(
        r"^\$wgSQLiteDataDir = .*;$",
        lambda _: '$wgSQLiteDataDir = __DIR__ . "/data";',
        settings,
        flags=re.M,
    )
    if count != 1:
        raise MediaWikiError(f"no $wgSQLiteDataDir line in {conf}")
    conf.write_text(settings + LOCAL_SETTINGS_EXTRA)
    (directory / "router.php").write_text(ROUTER_PHP)

    _php(
        "createAndPromote", "--force", "--bot", "--custom-groups", "suppress",
        ADMIN_USER, ADMIN_PASSWORD, conf=conf,
    )  # fmt: skip
    _php(
        "createBotPassword", "--appid", BOT_APP_ID, "--grants", BOT_GRANTS,
        ADMIN_USER, BOT_PASSWORD, conf=conf,
    )  # fmt: skip
    # The localisation cache (files under cache/, copied with the wiki) must be filled here,
    # or the first request to every copy builds it. The scripts above usually did; be sure.
    _php("rebuildLocalisationCache", "--lang", "en", conf=conf)


# ---- one wiki ---------------------------------------------------------------------------

# Servers run in sessions of their own, so nothing stops them when Python exits: this does,
# for wikis a test forgot to stop (a killed Python still leaves them running).
_running: set[TestWiki] = set()


@atexit.register
def _stop_all() -> None:
    for wiki in list(_running):
        with contextlib.suppress(Exception):
            wiki.stop()


class TestWiki:
    """One running MediaWiki in `directory`, served on 127.0.0.1:`port`."""

    __test__ = False  # not a pytest test class, despite the name

    admin_user = ADMIN_USER
    admin_password = ADMIN_PASSWORD
    bot_user = f"{ADMIN_USER}@{BOT_APP_ID}"
    bot_password = BOT_PASSWORD

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.conf = directory / "LocalSettings.php"
        self._process: subprocess.Popen[bytes] | None = None
        self._site: mwclient.Site | None = None
        self._set_port(port)

    def _set_port(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.api_url = f"http://{self.host}/api.php"
        self.index_url = f"http://{self.host}/index.php"
        # Only maintenance scripts read this; web requests detect the server they came to.
        self.conf.write_text(
            re.sub(
                r'^\$wgServer = ".*";$',
                lambda _: f'$wgServer = "http://{self.host}";',
                self.conf.read_text(),
                count=1,
                flags=re.M,
            )
        )

    @classmethod
    def start(cls, directory: Path, port: int | None = None) -> TestWiki:
        """Create a fresh wiki in `directory` (new or empty) and serve it.

        Without `port` it takes a free one, and another one should that be taken meanwhile.
        """
        directory = Path(directory).absolute()
        if directory.exists() and any(directory.iterdir()):
            raise MediaWikiError(f"{directory} is not empty")
        shutil.copytree(_cache() / "wiki", directory, dirs_exist_ok=True)
        wiki = cls(directory, port or free_port())
        for attempt in range(3):
            try:
                wiki.serve()
                return wiki
            except PortInUseError:
                if port is not None or attempt == 2:
                    raise
                wiki._set_port(free_port())
        raise AssertionError("unreachable")

    # -- serving -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def serve(self) -> None:
        """Start the web server on this wiki's port and wait until the API answers."""
        if self.running:
            return
        if _listening(self.port):
            raise PortInUseError(f"something else listens on {self.host}")
        command = [
            # revalidate_freq=0: a line a test appends to LocalSettings.php counts at once.
            "php", "-d", f"opcache.file_cache={_cache() / 'opcache'}",
            "-d", "opcache.revalidate_freq=0",
            "-S", self.host, "-t", str(MEDIAWIKI_DIR), str(self.directory / "router.php"),
        ]  # fmt: skip
        with open(self.directory / "logs" / "server.log", "ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={
                    **os.environ,
                    "MW_CONFIG_FILE": str(self.conf),
                    "PHP_CLI_SERVER_WORKERS": str(SERVER_WORKERS),
                },
                # Own session and process group: stop() kills the workers too.
                start_new_session=True,
            )
        _running.add(self)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        params = {"action": "query", "meta": "siteinfo", "format": "json"}

        def answers() -> bool:
            self._check_alive()
            try:
                response = requests.get(self.api_url, params=params, timeout=5)
                return response.ok and "query" in response.json()
            except (requests.RequestException, ValueError):
                return False

        try:
            wait_until(answers, START_TIMEOUT, f"{self.api_url} to answer")
        except TimedOut:
            self.stop()
            raise MediaWikiError(
                f"{self.api_url} did not answer within {START_TIMEOUT} s:\n" + self.server_log()
            ) from None
        # Not some other server that took the port while ours failed to bind.
        self._check_alive()

    def _check_alive(self) -> None:
        process = self._process
        if process is None or process.poll() is None:
            return
        self._process = None
        _running.discard(self)
        log = self.server_log()
        error = PortInUseError if "Address already in use" in log else MediaWikiError
        raise error(f"php -S {self.host} exited with code {process.returncode}:\n{log}")

    def stop(self) -> None:
        """Stop serving (connections are then refused). The wiki's data stays."""
        self._site = None
        _running.discard(self)
        process, self._process = self._process, None
        if process is None:
            return
        # The process group: `php -S` and its forked workers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Workers can outlive the parent for a moment; the port is free once none listens.
        self._wait_until_port_free()

    def _wait_until_port_free(self) -> None:
        try:
            wait_until(lambda: not _listening(self.port), STOP_TIMEOUT, f"{self.host} free")
        except TimedOut:
            raise MediaWikiError(f"something still listens on {self.host} after stop()") from None

    def restart(self) -> None:
        """Stop and serve again on the same port."""
        self.stop()
        self.serve()

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Within the block nothing listens on the wiki's port; it serves again after."""
        self.stop()
        try:
            yield
        finally:
            self.serve()

    @contextlib.contextmanager
    def unavailable(self, status: int = 503) -> Iterator[None]:
        """Within the block every request gets HTTP `status` (with Retry-After: 1)."""
        flag = self.directory / "unavailable"
        flag.write_text(str(status))
        try:
            yield
        finally:
            flag.unlink()

    def server_log(self, tail: int = 40) -> str:
        """The last lines of the web server's log, for error messages."""
        path = self.directory / "logs" / "server.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-tail:])

    def __enter__(self) -> TestWiki:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------

    def anon_site(self) -> mwclient.Site:
        """A new anonymous mwclient.Site for this wiki."""
        return mwclient.Site(
            self.host,
            path="/",
            scheme="http",
            clients_useragent=USER_AGENT,
            # Fail fast in tests instead of mwclient's 25 retries.
            max_retries=2,
            retry_timeout=1,
        )

    def site(self) -> mwclient.Site:
        """A mwclient.Site logged in with the bot password (cached until stop())."""
        if self._site is None:
            site = self.anon_site()
            site.login(self.bot_user, self.bot_password)
            self._site = site
        return self._site

    def api(self, action: str, **params: Any) -> dict[str, Any]:
        """POST an API request as the logged-in bot and return the decoded result."""
        site = self.site()
        return site.api(action, "POST", **params)

    def revisions(
        self, title: str, prop: str = "ids", anonymous: bool = False
    ) -> list[dict[str, Any]]:
        """The wiki's own account of a page's history, oldest first (all of it, following
        the API's continuation): each revision's `prop` fields (``rvprop``)."""
        site = self.anon_site() if anonymous else self.site()
        revisions: list[dict[str, Any]] = []
        cont: dict[str, Any] = {}
        while True:
            result = site.api(
                "query",
                "GET",
                prop="revisions",
                titles=title,
                rvlimit="max",
                rvdir="newer",
                rvprop=prop,
                formatversion=2,
                **cont,
            )
            revisions += result["query"]["pages"][0].get("revisions", [])
            if "continue" not in result:
                return revisions
            cont = dict(result["continue"])

    def _write(self, action: str, **params: Any) -> dict[str, Any]:
        site = self.site()
        result = site.api(action, "POST", token=site.get_token("csrf"), **params)
        return result[action]

    # -- changes ---------------------------------------------------------------------------

    def edit(self, title: str, text: str, summary: str = "", minor: bool = False) -> int:
        """Save `text` as a new revision of `title` and return its revid.

        Raises MediaWikiError when MediaWiki saved nothing because the text is unchanged.
        """
        flag = {"minor": 1} if minor else {"notminor": 1}
        result = self._write("edit", title=title, text=text, summary=summary, **flag)
        if result.get("result") != "Success" or "nochange" in result:
            raise MediaWikiError(f"edit of {title!r} made no new revision: {result}")
        return int(result["newrevid"])

    def move(self, old: str, new: str, reason: str = "", noredirect: bool = False) -> None:
        """Move page `old` to `new` (leaving a redirect unless noredirect)."""
        params: dict[str, Any] = {"from": old, "to": new, "reason": reason}
        if noredirect:
            params["noredirect"] = 1
        self._write("move", **params)

    def delete(self, title: str, reason: str = "") -> None:
        """Delete page `title` with all its revisions."""
        self._write("delete", title=title, reason=reason)

    def hide_revision(
        self,
        revid: int,
        text: bool = True,
        user: bool = False,
        comment: bool = False,
        suppress: bool = False,
    ) -> None:
        """Hide parts of revision `revid` (revision deletion); `suppress` hides from admins too."""
        hide = [
            name
            for name, wanted in (("content", text), ("user", user), ("comment", comment))
            if wanted
        ]
        if not hide:
            raise ValueError("hide_revision needs at least one of text, user, comment")
        result = self._write(
            "revisiondelete",
            type="revision",
            ids=str(revid),
            hide="|".join(hide),
            suppress="yes" if suppress else "nochange",
        )
        failed = [item for item in result.get("items", []) if item.get("errors")]
        if result.get("status") != "Success" or failed:
            raise MediaWikiError(f"hiding revision {revid} failed: {result}")

    # -- maintenance scripts ---------------------------------------------------------------

    def run_maintenance(self, script: str, *args: str, timeout: float = 300) -> str:
        """Run maintenance/`script`.php against this wiki; returns its output."""
        return _php(script, *map(str, args), conf=self.conf, timeout=timeout)

    def import_xml(
        self, path: Path | str, no_updates: bool = True, recent_changes: bool = False
    ) -> str:
        """Import a Special:Export XML file with importDump.php; returns its output.

        Imports create no recentchanges rows, as on a real wiki; `recent_changes=True` runs
        rebuildrecentchanges.php so that imported revisions (of the last 90 days) appear there.
        """
        args = [str(Path(path).absolute())]
        if no_updates:
            args.insert(0, "--no-updates")
        output = self.run_maintenance("importDump", *args)
        # Page and revision counts of Special:Statistics and siteinfo&siprop=statistics.
        self.run_maintenance("initSiteStats", "--update")
        if recent_changes:
            self.run_maintenance("rebuildrecentchanges")
        return output
