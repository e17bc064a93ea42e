"""Reading a large export in a process of its own, so that parsing it takes the other core.

Parsing XML is a good part of the work of ingesting a long history, and the rest (diffing,
storing) holds the interpreter: a thread would not run beside it. `items_from_child` runs a
generator in a child process and yields what it yields, one item at a time through a pipe:
the child blocks while the pipe is full, so about one item is in the pipe and one is being
made (memory stays bounded, as with a thread). An error in the child is raised here, as it
was raised there.

The child is a new interpreter (``python -c``), never a fork: the daemon runs polls in
threads, and a fork could copy a lock another thread holds. Unlike multiprocessing's spawn
it does not import the caller's ``__main__`` again, so any script may read a large export.
It ignores Ctrl-C (the parent stops it) and ends by itself when the parent goes away: its
next write fails.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from tracker.errors import WikiError

_BOOT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from tracker.fetch.reader import _serve; _serve()"
)


def items_from_child(target: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
    """What ``target(*args)`` yields, made in a child process (``target``: a module-level
    function, ``args``: picklable)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        try:
            pickle.dump(sys.path, process.stdin)
            pickle.dump((target, args), process.stdin)
            process.stdin.close()
        except BrokenPipeError:
            pass  # it ended at once: told below
        while True:
            try:
                kind, value = pickle.load(process.stdout)
            except EOFError:
                raise WikiError(
                    f"the export reader stopped unexpectedly (exit code {process.wait()}); "
                    "run again, and report it if it happens again"
                ) from None
            except Exception as exc:  # e.g. an exception of its that does not unpickle
                raise WikiError(
                    f"the export reader sent what cannot be read ({exc.__class__.__name__}: "
                    f"{exc}); report it"
                ) from None
            if kind == "item":
                yield value
            elif kind == "done":
                return
            else:
                raise value
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.kill()
        process.wait()


def _serve() -> None:
    """The child: read what to run, send what it yields (on the stdout it was given; its
    own stdout goes to stderr, so that a stray print cannot corrupt the pipe)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the child
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        target, args = pickle.load(sys.stdin.buffer)
        _send_all(out, target, args)
    except BrokenPipeError:
        pass  # the parent went away or stopped reading
    finally:
        try:
            out.close()
        except BrokenPipeError:
            pass


def _send_all(out: IO[bytes], target: Callable[..., Iterator[Any]], args: tuple) -> None:
    try:
        for item in target(*args):
            _send(out, ("item", item))
    except BrokenPipeError:
        raise
    except Exception as exc:
        try:
            data = pickle.dumps(("error", exc))
        except Exception:  # the exception does not pickle: its message does
            data = pickle.dumps(("error", WikiError(f"{exc.__class__.__name__}: {exc}")))
        out.write(data)
        out.flush()
        return
    _send(out, ("done", None))


def _send(out: IO[bytes], message: tuple[str, Any]) -> None:
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()
