"""One exception root; each error reads as one line saying what is wrong and what to do."""


class TrackerError(Exception):
    """Base of every error the tracker reports to a user."""

    exit_code = 1


class ConfigError(TrackerError):
    """The configuration file is wrong; the message names the file, the key and the fix."""

    exit_code = 2


class UsageError(TrackerError):
    """A command was called with arguments that cannot work (unknown title, revision...)."""

    exit_code = 2


class WikiError(TrackerError):
    """A wiki could not be reached or answered something unusable."""


class StoreError(TrackerError):
    """The database cannot be read or written."""


class NoDatabase(StoreError):
    """A database opened to be read does not exist yet."""

    def __init__(self, path: object):
        self.path = path
        super().__init__(f"no database at {path}: run `tracker run --once` first")


class AmbiguousTitle(UsageError):
    """A title names stored pages on several wikis."""

    def __init__(self, title: str, wikis: list[str]):
        self.title, self.wikis = title, wikis
        super().__init__(
            f"{title!r} is tracked on several wikis ({', '.join(wikis)}): pick one with --wiki"
        )


class AlreadyWatched(UsageError):
    """A page is watched already (`tracker watch add`; `watch import` skips it)."""


class AmbiguousRevision(UsageError):
    """A revision id is stored for several wikis."""

    def __init__(self, revid: int):
        self.revid = revid
        super().__init__(f"revision {revid} exists on several wikis: pick one with --wiki")


class DeliveryError(TrackerError):
    """A digest could not be delivered through a channel."""


class HiddenText(TrackerError):
    """A revision's text is hidden (or deleted) on the wiki: it cannot be shown or compared."""


class RunFailed(TrackerError):
    """`tracker run --once` did not do all its work (a poll or a digest failed)."""


class TooLarge(WikiError):
    """A reply of a wiki was larger than the wiki's ``max_reply_size``."""


class AlreadyRunning(TrackerError):
    """Another daemon holds the database's lock."""


class ServeError(TrackerError):
    """The web server could not start (the port is taken, the address is not ours...)."""


class DigestFailed(TrackerError):
    """`tracker digest` could not make or deliver a digest (a run-time failure, exit 1)."""


class Stopping(BaseException):
    """Raised inside a daemon's job when the daemon stops: unwinds it, rolls its batch back.

    A BaseException, as KeyboardInterrupt is: poll_wiki records any Exception as that page's
    failure and goes on with the next page, and delivery records it as a failed attempt,
    where a stop must end the job and record nothing.
    """


# --- signals inside a stage, never shown as they are --------------------------------------


class CursorMoved(Exception):
    """Another process recorded a digest of this window first (tracker.store.digests); the
    digest run drops its own."""


class Unreadable(Exception):
    """Wikitext not read with the parser (tracker.text.wikiparse); `reason` says why, for
    a reader: the diff records it as ``semantics_skipped`` and goes on.

    `lasting`: the reason is the text's own (the same text is refused again: worth
    remembering), not a budget spent on other texts.
    """

    def __init__(self, reason: str, lasting: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lasting = lasting
