"""Everything a wiki sends is bounded: the waits it asks for, the time and bytes of each
request, the continuations of a query, the size of a revision (issue 15, item 3).

A fault server on loopback (tests/faultproxy.py) plays the wiki; nothing sits behind it, so
every request meets a fault or a made-up reply. Deadlines are seconds long and asserted
with wide margins: a slow machine makes these tests slower, never red.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from faultproxy import FaultProxy
from waits import wait_until

from tracker.config import MIB, Wiki, load_config, parse_size
from tracker.errors import ConfigError, WikiError
from tracker.fetch.api import ApiSource
from tracker.fetch.transport import Backoff, BoundedAdapter, Limits, parse_retry_after
from tracker.model import sha1_hex

SITEINFO = {
    "batchcomplete": True,
    "query": {
        "general": {"generator": "MediaWiki 1.39.0", "sitename": "Fake"},
        "userinfo": {"id": 0, "name": "127.0.0.1", "anon": True},
    },
}


def siteinfo(params: dict) -> dict:
    return SITEINFO


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1:9") as fault_server:  # nothing behind it
        fault_server.mode("reply", reply=siteinfo)  # what a request meets when nothing else
        yield fault_server


def api(proxy: FaultProxy, slept: list[float] | None = None, **wiki: object) -> ApiSource:
    settings: dict = {"contact": "tests@example.org", "max_retries": 1, **wiki}
    return ApiSource(
        Wiki(name="fake", api_url=proxy.api_url, **settings),
        sleep=slept.append if slept is not None else _never,
    )


def _never(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --- the config ----------------------------------------------------------------------------

WIKI = """
[[wikis]]
name = "w"
api_url = "http://127.0.0.1:8080/api.php"
"""


def test_config_bounds_have_safe_defaults_and_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(WIKI)
    wiki = load_config(path).wikis[0]
    assert (wiki.timeout, wiki.request_deadline, wiki.max_retry_after) == (30, 120, 900)
    assert (wiki.max_continuations, wiki.max_reply_size, wiki.max_revision_size) == (
        1000,
        32 * MIB,
        8 * MIB,
    )
    path.write_text(
        WIKI + 'request_deadline = "30s"\nmax_retry_after = 60\n'
        'max_continuations = 5\nmax_reply_size = "64MiB"\n'
        "max_revision_size = 2_000_000\n"
    )
    wiki = load_config(path).wikis[0]
    assert (wiki.request_deadline, wiki.max_retry_after, wiki.max_continuations) == (30, 60, 5)
    assert (wiki.max_reply_size, wiki.max_revision_size) == (64 * MIB, 2_000_000)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1024, 1024),
        ("512", 512),
        ("512B", 512),
        ("8MiB", 8 * MIB),
        ("8 mib", 8 * MIB),
        ("1.5KiB", 1536),
        ("10MB", 10_000_000),
        ("1GiB", 1 << 30),
        ("2kb", 2000),
    ],
)
def test_config_size_forms(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("timeout = 0", "wikis[0].timeout: must be more than 0"),
        ("timeout = -3", "wikis[0].timeout: must be more than 0"),
        ("max_retries = -1", "wikis[0].max_retries: must be 0 or more"),
        ("max_continuations = 0", "wikis[0].max_continuations: must be 1 or more"),
        ('request_deadline = "soon"', "wikis[0].request_deadline: 'soon' is not an interval"),
        ("max_retry_after = -1", "wikis[0].max_retry_after: an interval must be positive"),
        ('max_reply_size = "8 parsecs"', "wikis[0].max_reply_size: '8 parsecs' is not a size"),
        ("max_revision_size = 0", "wikis[0].max_revision_size: a size must be positive"),
        ("max_revision_size = true", "wikis[0].max_revision_size: expected bytes"),
        (
            'max_reply_size = "4MiB"\nmax_revision_size = "8MiB"',
            "wikis[0].max_reply_size: 4 MiB is not more than max_revision_size (8 MiB)",
        ),
    ],
)
def test_config_bounds_refuse_what_cannot_work(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(WIKI + line + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value) and str(path) in str(error.value)


# --- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["status", "maxlag"])
@pytest.mark.parametrize("value", ["99999999", "inf", "Infinity", "1e400", "date+99999"])
def test_wiki_retry_after_beyond_the_cap_is_not_slept(
    proxy: FaultProxy, kind: str, value: str
) -> None:
    slept: list[float] = []
    proxy.queue(kind, retry_after=value)
    with pytest.raises(WikiError) as error:
        api(proxy, slept, max_retries=5).call(meta="siteinfo")
    assert slept == []  # not a second of it
    message = one_line(error)
    assert "Retry-After" in message and "max_retry_after (15 min)" in message
    assert "next poll" in message
    assert proxy.injected[kind] == 1  # given up at once, not retried


@pytest.mark.parametrize("kind", ["status", "maxlag"])
@pytest.mark.parametrize("value", ["NaN", "-5", "soon", "", "12 parsecs"])
def test_wiki_retry_after_not_a_wait_falls_back_to_backoff(
    proxy: FaultProxy, kind: str, value: str
) -> None:
    slept: list[float] = []
    proxy.queue(kind, retry_after=value)
    assert api(proxy, slept).call(meta="siteinfo") == SITEINFO
    assert len(slept) == 1 and 0 < slept[0] <= 60 and math.isfinite(slept[0])


def test_wiki_retry_after_http_date_is_a_wait(proxy: FaultProxy) -> None:
    slept: list[float] = []
    proxy.queue("status", retry_after="date+120")  # RFC 9110: an HTTP-date is allowed
    proxy.queue("status", retry_after="date+-3600")  # a date in the past: no wait asked
    assert api(proxy, slept, max_retries=2).call(meta="siteinfo") == SITEINFO
    assert 115 <= slept[0] <= 125  # from the reply's own Date header, not our clock
    assert slept[1] <= 60  # the backoff alone


def test_wiki_retry_after_cap_is_configured_per_wiki(proxy: FaultProxy) -> None:
    slept: list[float] = []
    proxy.queue("status", retry_after="20")
    proxy.queue("status", retry_after="40")
    source = api(proxy, slept, max_retries=3, max_retry_after=30)
    with pytest.raises(WikiError, match=r"asks to wait 40 s .*max_retry_after \(30 s\)"):
        source.call(meta="siteinfo")
    assert slept and slept[0] >= 20


def test_wiki_parse_retry_after() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 7 ") == 7
    assert parse_retry_after("inf") == math.inf
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-1") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2026 07:30:00 GMT", date) == 120
    assert parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", date) == 0
    assert parse_retry_after("Wed, 21 Oct 2026 07:30:00 GMT", None, now=lambda: 0) > 1e9
    assert parse_retry_after("Wed, 99 Foo 2026 07:30:00", date) is None


def test_wiki_backoff_is_bounded_whatever_it_is_given() -> None:
    backoff = Backoff(base=1, cap=60, max_retry_after=900)
    for attempt in (0, 3, 64, 5000, 10**9):
        assert 0 < backoff.delay(attempt) <= 60
    assert backoff.delay(0, math.inf) <= 900  # the daemon passes what the header says
    assert backoff.delay(0, 99999999) == 900
    assert 0 < backoff.delay(0, math.nan) <= 1
    assert 0 < backoff.delay(0, -5) <= 1
    assert backoff.delay(0, 30) == 30
    # The daemon's wait after failed polls reads the raw header: bounded the same way.
    from tracker.daemon.scheduler import backoff_delay

    for value in (math.inf, math.nan, 99999999.0, -1.0):
        assert 0 < backoff_delay(3, 60.0, value) <= 960


# --- the deadline of a request ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["body", "headers"])
def test_wiki_dripping_reply_is_cut_at_the_deadline(proxy: FaultProxy, where: str) -> None:
    # A byte every 0.2 s never trips the 5 s per-read timeout; the reply would take 20 s
    # (30 s when its headers drip too) and then be no JSON. What the client says tells
    # whether the deadline cut it, not a stopwatch: a slow machine cannot make this fail.
    proxy.queue("drip", seconds=0.2, size=100, where=where)
    source = api(proxy, max_retries=0, timeout=5, request_deadline=2)
    with pytest.raises(WikiError) as error:
        source.call(meta="siteinfo")
    assert "no complete reply within 2 s (request_deadline)" in one_line(error)
    # The connection is gone, the next request is a new one and works.
    assert source.call(meta="siteinfo") == SITEINFO


def test_wiki_deadline_leaves_normal_replies_alone(proxy: FaultProxy) -> None:
    before = threading.active_count()
    source = api(proxy, request_deadline=5)
    for _ in range(20):  # many requests on kept-alive connections, each far below 5 s
        assert source.call(meta="siteinfo") == SITEINFO
    assert source.requests == 20
    # Each request's timer ends with it: no thread is left waiting for a deadline.
    wait_until(lambda: threading.active_count() <= before + 2, 10, "the deadline timers to exit")


# --- continuations ---------------------------------------------------------------------------


def test_wiki_endless_continuation_stops_at_the_cap(proxy: FaultProxy) -> None:
    def endless(params: dict) -> dict:
        n = int(params.get("lecontinue", "0"))
        return {
            "continue": {"lecontinue": str(n + 1), "continue": "-||"},
            "query": {"logevents": [{"logid": n}]},
        }

    proxy.mode("reply", reply=endless)
    source = api(proxy, max_continuations=20)
    seen = []
    with pytest.raises(WikiError) as error:
        for result in source.query(list="logevents"):
            seen.extend(result["query"]["logevents"])
    assert "past max_continuations (20 continuation requests)" in one_line(error)
    assert len(seen) == 21 and proxy.injected["reply"] == 21


@pytest.mark.parametrize("cycle", [1, 2, 3])
def test_wiki_continuation_that_repeats_itself_stops(proxy: FaultProxy, cycle: int) -> None:
    def looping(params: dict) -> dict:
        n = int(params.get("rvcontinue", "0"))
        return {
            "continue": {"rvcontinue": str((n + 1) % cycle), "continue": "||"},
            "query": {"pages": []},
        }

    proxy.mode("reply", reply=looping)
    with pytest.raises(WikiError) as error:
        list(api(proxy).query(prop="revisions", pageids=1))
    assert "sent the same continuation twice" in one_line(error)
    assert proxy.injected["reply"] == cycle + 1  # the default cap (1000) was never near


def test_wiki_malformed_continuation_is_refused(proxy: FaultProxy) -> None:
    proxy.mode("reply", reply=lambda params: {"continue": ["x"], "query": {}})
    with pytest.raises(WikiError, match="malformed continuation"):
        list(api(proxy).query(list="logevents"))


# --- the bytes of a reply --------------------------------------------------------------------


def _peak_during(call) -> int:
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_wiki_huge_body_is_cut_while_it_streams(proxy: FaultProxy) -> None:
    proxy.queue("huge", size=200_000_000)  # chunked: its size is known only at its end
    source = api(proxy)  # the default cap, 32 MiB

    def call() -> None:
        with pytest.raises(WikiError) as error:
            source.call(meta="siteinfo")
        assert "larger than max_reply_size (32 MiB; cut off)" in one_line(error)

    assert _peak_during(call) < 64 * MIB  # the cap and one read, never 200 MB
    assert source.call(meta="siteinfo") == SITEINFO


def test_wiki_huge_body_announced_is_refused_unread(proxy: FaultProxy) -> None:
    proxy.queue("huge", size=200_000_000, length=True)
    source = api(proxy)
    assert _peak_during(lambda: pytest.raises(WikiError, source.call, meta="siteinfo")) < 4 * MIB
    assert source.call(meta="siteinfo") == SITEINFO


def test_wiki_gzip_bomb_is_cut_while_it_inflates(proxy: FaultProxy) -> None:
    proxy.queue("gzip", size=1 << 30)  # 1 MB that inflates to 1 GiB
    source = api(proxy, max_reply_size=4 * MIB, max_revision_size=1 * MIB)

    def call() -> None:
        with pytest.raises(WikiError, match=r"larger than max_reply_size \(4 MiB"):
            source.call(meta="siteinfo")

    assert _peak_during(call) < 16 * MIB
    assert source.call(meta="siteinfo") == SITEINFO


def test_wiki_reply_bounds_in_a_process_of_their_own(proxy: FaultProxy, tmp_path: Path) -> None:
    """The peak RSS of a fresh process meeting a gzip bomb (1 GiB) and a 200 MB body with
    the default bounds: a few dozen MB more than it started with (tracemalloc sees Python's
    allocations only; this sees every byte)."""
    proxy.queue("reply", reply=siteinfo)
    proxy.queue("gzip", size=1 << 30)
    proxy.queue("huge", size=200_000_000)
    script = tmp_path / "bounded.py"
    script.write_text(
        textwrap.dedent(f"""
        import resource, sys
        from tracker.config import Wiki
        from tracker.errors import WikiError
        from tracker.fetch.api import ApiSource
        source = ApiSource(Wiki(name="fake", api_url={proxy.api_url!r}, max_retries=0))
        source.call(meta="siteinfo")  # warm: imports, connections
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(2):
            try:
                source.call(meta="siteinfo")
            except WikiError as exc:
                print(exc, file=sys.stderr)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(before, after)
    """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert done.stderr.count("larger than max_reply_size") == 2, done.stderr
    assert (after - before) * 1024 < 150 * MIB, (before, after)  # ru_maxrss is in KiB


def test_transport_gives_normal_replies_as_requests_does(proxy: FaultProxy) -> None:
    """Compressed the ways servers compress: the same content as requests' own decoding."""
    data = json.dumps(SITEINFO).encode() * 50

    def deflate(raw: bool) -> bytes:
        packer = zlib.compressobj(6, zlib.DEFLATED, -15 if raw else 15)
        return packer.compress(data) + packer.flush()

    def gzip_members(count: int) -> bytes:
        part = len(data) // count + 1
        return b"".join(
            zlib.compress(data[i : i + part], wbits=31) for i in range(0, len(data), part)
        )

    bounded = requests.Session()
    bounded.mount("http://", BoundedAdapter(Limits(deadline=10, max_bytes=1 * MIB)))
    for encoding, body in [
        ("gzip", gzip_members(1)),
        ("gzip", gzip_members(3)),
        ("x-gzip", gzip_members(1)),
        ("deflate", deflate(False)),
        ("deflate", deflate(True)),
        ("identity", data),
        ("", data),
    ]:
        proxy.queue(
            "raw", status=200, body=body, headers={"Content-Encoding": encoding} if encoding else {}
        )
        assert bounded.get(proxy.api_url).content == data, encoding
        assert bounded.get(proxy.api_url).json() == SITEINFO  # the connection is reusable


def test_transport_refuses_unasked_encodings(proxy: FaultProxy) -> None:
    proxy.queue("raw", status=200, body=b"\x00" * 10, headers={"Content-Encoding": "br"})
    with pytest.raises(WikiError, match="Content-Encoding 'br', which was not asked for"):
        api(proxy, max_retries=0).call(meta="siteinfo")


# --- the size of a revision -------------------------------------------------------------------


class FakeHistory:
    """One page's revisions as MediaWiki's API gives them (prop=revisions, formatversion=2):
    rvlimit, rvcontinue, rvdir, revids, with or without content; and MediaWiki's own cap on
    a result (``result_cap`` bytes of content, its $wgAPIMaxResultSize): a revision that does
    not fit ends the reply, with a continuation at itself, even when it is the first."""

    def __init__(self, texts: list[str], result_cap: int | None = None):
        self.revs = [
            {
                "revid": 100 + i,
                "parentid": 99 + i if i else 0,
                "timestamp": f"2024-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "user": "Editor",
                "userid": 7,
                "comment": f"edit {i}",
                "size": len(text.encode()),
                "sha1": sha1_hex(text),
                "contentmodel": "wikitext",
                "text": text,
            }
            for i, text in enumerate(texts)
        ]
        self.result_cap = result_cap
        self.asked: list[dict] = []

    def __call__(self, params: dict) -> dict:
        if "siteinfo" in params.get("meta", ""):
            return SITEINFO
        self.asked.append(params)
        content = "content" in params.get("rvprop", "").split("|")
        if "revids" in params:
            wanted = {int(r) for r in params["revids"].split("|")}
            rows = [r for r in self.revs if r["revid"] in wanted]
            limit = len(rows)
        else:
            rows = self.revs if params.get("rvdir") == "newer" else self.revs[::-1]
            limit = 50 if params.get("rvlimit", "max") == "max" else int(params["rvlimit"])
        if "rvcontinue" in params:
            revid = int(params["rvcontinue"].split("|")[-1])
            rows = rows[[r["revid"] for r in rows].index(revid) :]
        out, used, cont = [], 0, None
        for i, row in enumerate(rows):
            if i == limit:
                cont = row
                break
            item = {k: v for k, v in row.items() if k != "text"}
            if content:
                if self.result_cap is not None and used + row["size"] > self.result_cap:
                    cont = row
                    break
                used += row["size"]
                item["slots"] = {
                    "main": {
                        "contentmodel": "wikitext",
                        "contentformat": "text/x-wiki",
                        "content": row["text"],
                    }
                }
            out.append(item)
        result: dict = {
            "query": {"pages": [{"pageid": 1, "ns": 0, "title": "Page", "revisions": out}]}
        }
        if cont is not None:
            result["continue"] = {
                "rvcontinue": f"{cont['timestamp']}|{cont['revid']}",
                "continue": "||",
            }
        return result


def fetched(source: ApiSource, **kwargs: object) -> list:
    return [rev for batch in source.fetch_revisions(1, **kwargs) for rev in batch]


def check_history(revisions: list, history: FakeHistory, large: set[int]) -> None:
    """Every revision once, in order, with its metadata; the large ones without text."""
    assert [r.revid for r in revisions] == [r["revid"] for r in history.revs]
    for rev, row in zip(revisions, history.revs, strict=True):
        assert (rev.size, rev.sha1, rev.timestamp, rev.comment) == (
            row["size"],
            row["sha1"],
            row["timestamp"],
            row["comment"],
        )
        if rev.revid in large:
            assert rev.toolarge and rev.text is None and not rev.texthidden
        else:
            assert not rev.toolarge and rev.text == row["text"]


def test_wiki_revision_over_max_revision_size_comes_without_text(proxy: FaultProxy) -> None:
    history = FakeHistory(["small", "x" * 3000, "€" * 700, "é" * 1000, "end"])
    proxy.mode("reply", reply=history)
    source = api(proxy, max_revision_size=2048)
    # "€" * 700 is 700 characters but 2,100 bytes; "é" * 1000 is 2,000 bytes: it fits.
    check_history(fetched(source), history, large={101, 102})
    assert len(history.asked) == 1


def test_wiki_revision_too_large_for_a_reply_comes_alone_without_text(proxy: FaultProxy) -> None:
    texts = [f"revision {i} " * 80 for i in range(30)]
    texts[7] = "y" * 100_000  # over the 64 KiB reply cap on its own
    history = FakeHistory(texts)
    proxy.mode("reply", reply=history)
    source = api(proxy, max_reply_size=64 * 1024, max_revision_size=32 * 1024)
    check_history(fetched(source), history, large={107})
    # Fewer per request until past it, then the revision alone without text, then on.
    assert len(history.asked) <= 15
    assert sum(1 for p in history.asked if "content" not in p["rvprop"].split("|")) == 1


def test_wiki_revision_over_the_wikis_own_result_cap(proxy: FaultProxy) -> None:
    texts = [f"revision {i} " * 80 for i in range(21)]
    texts[0] = texts[10] = "z" * 30_000  # MediaWiki cannot send these with content
    history = FakeHistory(texts, result_cap=20_000)
    proxy.mode("reply", reply=history)
    source = api(proxy)
    check_history(fetched(source), history, large={100, 110})
    assert len(history.asked) <= 8


@pytest.mark.parametrize("result_cap", [None, 20_000])
def test_wiki_revisions_by_id_split_around_a_large_one(
    proxy: FaultProxy, result_cap: int | None
) -> None:
    texts = [f"revision {i} " * 80 for i in range(60)]
    texts[33] = "w" * 100_000
    history = FakeHistory(texts, result_cap=result_cap)
    proxy.mode("reply", reply=history)
    source = api(proxy, max_reply_size=64 * 1024, max_revision_size=32 * 1024)
    revisions = sorted(
        fetched(source, revids=[r["revid"] for r in history.revs]), key=lambda r: r.revid
    )
    check_history(revisions, history, large={133})
    assert len(history.asked) <= 20


def test_wiki_last_revisions_with_a_large_one(proxy: FaultProxy) -> None:
    texts = [f"revision {i} " * 80 for i in range(12)]
    texts[9] = "v" * 100_000
    history = FakeHistory(texts)
    proxy.mode("reply", reply=history)
    source = api(proxy, max_reply_size=64 * 1024, max_revision_size=32 * 1024)
    revisions = fetched(source, last=5)
    assert [r.revid for r in revisions] == [107, 108, 109, 110, 111]
    assert [r.toolarge for r in revisions] == [False, False, True, False, False]


def test_wiki_endless_continuation_keeps_what_came_before(proxy: FaultProxy) -> None:
    history = FakeHistory([f"text {i}" for i in range(500)])
    proxy.mode("reply", reply=history)
    source = api(proxy, max_continuations=3)
    batches = []
    with pytest.raises(WikiError, match=r"past max_continuations \(3 continuation"):
        for batch in source.fetch_revisions(1):
            batches.append(batch)
    # Four replies of 50 came before the cap: the poller has stored them batch by batch.
    assert [len(b) for b in batches] == [50, 50, 50, 50]
