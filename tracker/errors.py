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


class DeliveryError(TrackerError):
    """A digest could not be delivered through a channel."""


class HiddenText(TrackerError):
    """A revision's text is hidden (or deleted) on the wiki: it cannot be shown or compared."""


class RunFailed(TrackerError):
    """`tracker run --once` did not do all its work (a poll or a digest failed)."""
