"""`tracker run --once`: one poll cycle of every watch (the fetch stage), then the digests
that are due (the digest stage). Here, above both, so that neither imports the other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tracker.config import Config, Watch
from tracker.digest.run import run_digests
from tracker.fetch.poll import PollResult, ProgressFactory, poll_all
from tracker.store import Store


@dataclass
class RunOutcome:
    polls: list[PollResult] = field(default_factory=list)
    digest_lines: list[str] = field(default_factory=list)
    digest_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.polls) and not self.digest_errors

    def lines(self) -> list[str]:
        return [p.summary() for p in self.polls] + self.digest_lines

    def failure(self) -> str:
        errors = [e for p in self.polls for e in p.errors] + self.digest_errors
        more = f" (and {len(errors) - 1} more; see `tracker status`)" if len(errors) > 1 else ""
        return f"{errors[0]}{more}" if errors else "failed"


def run_once(
    config: Config,
    *,
    progress: ProgressFactory | None = None,
    watches: Sequence[Watch] | None = None,
) -> RunOutcome:
    """Poll every watch that is not paused (only ``watches`` when given), then digests."""
    outcome = RunOutcome()
    with Store(config.database_path) as store:
        outcome.polls = poll_all(store, config, progress=progress, watches=watches)
        digests = run_digests(store, config)
    outcome.digest_lines, outcome.digest_errors = digests.lines, digests.errors
    return outcome
