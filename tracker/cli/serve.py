"""`tracker serve`: the history browser, served by waitress.

Wired into the CLI by ``register(main)`` (cli.py), so that the web stack is imported only
when the command runs.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading

import click

from tracker.errors import ServeError

log = logging.getLogger(__name__)


# Waitress stops accepting connections at its limit (100 by default): a hundred clients that
# open a connection and never finish their request would lock everyone else out. A higher
# limit and a short idle timeout make that cost far more; for a public address, put a
# reverse proxy with header deadlines in front (it listens on 127.0.0.1 unless told).
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT = 30  # seconds without a byte before a connection is closed


def register(main: click.Group) -> None:
    """Add `tracker serve [--host H] [--port P]` to the command group."""

    @main.command()
    @click.option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
    @click.option(
        "--port",
        type=click.IntRange(0, 65535),
        help="Port to listen on (default: web.port, 8080; 0 picks a free one).",
    )
    @click.option(
        "--threads",
        type=click.IntRange(1, 64),
        default=4,
        show_default=True,
        help="Worker threads answering requests.",
    )
    @click.pass_obj
    def serve(app: object, host: str | None, port: int | None, threads: int) -> None:
        """Browse and search the stored history in a web browser (read-only)."""
        config = app.config  # type: ignore[attr-defined]
        serve_app(
            config,
            host or config.web.host,
            config.web.port if port is None else port,
            threads=threads,
        )


def serve_app(config: object, host: str, port: int, *, threads: int = 4) -> None:
    """Build the app and serve it until interrupted."""
    from waitress.server import create_server

    from tracker.web import create_app

    app = create_app(config)  # type: ignore[arg-type]
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="wiki-tracker",
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=5,
        )
    except OSError as exc:
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another with --port"
        ) from None
    where = f"http://{_url_host(host)}:{server.effective_port}/"  # type: ignore[union-attr]
    click.echo(f"Serving the history browser at {where} (Ctrl+C to stop)", err=True)
    if not _is_loopback(host):
        click.echo(
            "Warning: it is reachable from other machines and has no login; "
            "it shows everything in the store.",
            err=True,
        )
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (systemd, docker stop) ends it as cleanly as Ctrl+C does.
        signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    click.echo("Stopped.", err=True)


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
