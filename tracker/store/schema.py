"""The schema: every table of the store, as one ordered list of migration steps.

Each step runs once, in this order, recorded by name in ``_migrations`` (the sqlite-migrate
idea): a new database gets them all, an older one the steps it has not had yet, in place.
Append new steps; never edit or rename an applied one (databases record these names).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from tracker.store.encoding import pack_ids
from tracker.store.revisions import HISTORY, redetect_reverts

# The full-text index of section texts (tracker.store.search): contentless FTS5 over their
# distinct paragraphs, rowid = paragraph id.
FTS_TABLE = "search_paragraphs"
# unicode61 folds case and, with remove_diacritics 2, accents: "Peşawar" finds "Pesawar".
TOKENIZE = "unicode61 remove_diacritics 2"


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE wikis (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            api_url TEXT,
            snapshot TEXT,
            last_ok TEXT,
            last_error TEXT,
            last_error_at TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            unreachable_since TEXT
        );
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            pageid INTEGER NOT NULL,
            ns INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL,
            content_model TEXT,
            redirect_to TEXT,
            deleted_at TEXT,
            last_revid INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (wiki_id, pageid)
        );
        CREATE INDEX pages_title ON pages (wiki_id, title);
        CREATE TABLE page_titles (
            page_id INTEGER NOT NULL REFERENCES pages(id),
            title TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (page_id, title)
        ) WITHOUT ROWID;
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            title TEXT NOT NULL,
            page_id INTEGER REFERENCES pages(id),
            status TEXT NOT NULL DEFAULT 'new',
            last_poll TEXT,
            next_poll REAL,
            last_change TEXT,
            last_error TEXT,
            last_error_at TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            added_at TEXT NOT NULL,
            UNIQUE (wiki_id, title)
        );
        CREATE TABLE blobs (
            id INTEGER PRIMARY KEY,
            hash BLOB NOT NULL UNIQUE,
            data BLOB NOT NULL
        );
        CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            page_id INTEGER NOT NULL REFERENCES pages(id),
            revid INTEGER NOT NULL,
            parentid INTEGER NOT NULL DEFAULT 0,
            timestamp TEXT NOT NULL,
            user TEXT,
            userid INTEGER,
            comment TEXT,
            minor INTEGER NOT NULL DEFAULT 0,
            tags TEXT,
            size INTEGER NOT NULL DEFAULT 0,
            sha1 TEXT,
            texthidden INTEGER NOT NULL DEFAULT 0,
            userhidden INTEGER NOT NULL DEFAULT 0,
            commenthidden INTEGER NOT NULL DEFAULT 0,
            sha1hidden INTEGER NOT NULL DEFAULT 0,
            content_model TEXT NOT NULL DEFAULT 'wikitext',
            content_format TEXT,
            has_text INTEGER NOT NULL DEFAULT 0,
            revert_of INTEGER,
            reverted_by INTEGER,
            ingested_at TEXT NOT NULL,
            UNIQUE (wiki_id, revid)
        );
        CREATE INDEX revisions_page ON revisions (page_id, revid);
        CREATE INDEX revisions_sha1 ON revisions (page_id, sha1);
        CREATE TABLE revision_sections (
            rev_id INTEGER NOT NULL REFERENCES revisions(id),
            idx INTEGER NOT NULL,
            blob_id INTEGER NOT NULL REFERENCES blobs(id),
            section_id TEXT NOT NULL,
            PRIMARY KEY (rev_id, idx)
        ) WITHOUT ROWID;
        CREATE INDEX revision_sections_blob ON revision_sections (blob_id);
        CREATE TABLE diffs (
            to_rev INTEGER PRIMARY KEY REFERENCES revisions(id),
            from_rev INTEGER REFERENCES revisions(id),
            data BLOB NOT NULL
        );
        CREATE TABLE section_changes (
            rev_id INTEGER NOT NULL REFERENCES revisions(id),
            section_id TEXT NOT NULL,
            kinds TEXT NOT NULL,
            path TEXT NOT NULL,
            words_added INTEGER NOT NULL,
            words_removed INTEGER NOT NULL,
            PRIMARY KEY (rev_id, section_id)
        ) WITHOUT ROWID;
        CREATE INDEX section_changes_section ON section_changes (section_id);
        CREATE TABLE poll_runs (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            requests INTEGER NOT NULL DEFAULT 0,
            pages_checked INTEGER NOT NULL DEFAULT 0,
            revisions_added INTEGER NOT NULL DEFAULT 0,
            errors TEXT
        );
        """
    )


def _m010_digests(db: sqlite_utils.Database) -> None:
    """Digests, their pages and outputs, deliveries, subscription cursors (digests.py)."""
    db.executescript(
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            subscription TEXT NOT NULL,
            kind TEXT NOT NULL,              -- changes | start | heartbeat
            created_at TEXT NOT NULL,
            subject TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            model TEXT NOT NULL              -- the render model, JSON
        );
        CREATE INDEX digests_subscription ON digests (subscription, id);
        CREATE TABLE digest_pages (
            digest_id INTEGER NOT NULL REFERENCES digests(id),
            page_id INTEGER NOT NULL REFERENCES pages(id),
            from_revid INTEGER,              -- the revision before the window; NULL: none
            to_revid INTEGER NOT NULL,       -- the last revision of the window
            revisions INTEGER NOT NULL,      -- revisions in the window
            PRIMARY KEY (digest_id, page_id)
        ) WITHOUT ROWID;
        CREATE TABLE digest_outputs (
            digest_id INTEGER NOT NULL REFERENCES digests(id),
            format TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (digest_id, format)
        ) WITHOUT ROWID;
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            digest_id INTEGER NOT NULL REFERENCES digests(id),
            subscription TEXT NOT NULL,
            channel TEXT NOT NULL,           -- the channel's key within its subscription
            channel_type TEXT NOT NULL,
            status TEXT NOT NULL,            -- pending | sending | sent | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            next_attempt TEXT NOT NULL,
            last_attempt_at TEXT,
            sent_at TEXT,
            last_error TEXT,
            detail TEXT,
            UNIQUE (digest_id, channel)
        );
        CREATE INDEX deliveries_due ON deliveries (status, next_attempt);
        CREATE TABLE subscription_cursors (
            subscription TEXT NOT NULL,
            page_id INTEGER NOT NULL REFERENCES pages(id),
            revid INTEGER NOT NULL,          -- the last revision covered by a digest
            sections TEXT,                   -- JSON list of followed section ids, or NULL
            updated_at TEXT NOT NULL,
            PRIMARY KEY (subscription, page_id)
        ) WITHOUT ROWID;
        CREATE TABLE subscription_runs (
            subscription TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            last_checked_at TEXT             -- when its window was last looked at
        );
        """
    )


def _m020_daemon_jobs(db: sqlite_utils.Database) -> None:
    """The daemon's jobs and its own row, read by `tracker status` (tracker.store.jobs)."""
    db.executescript(
        """
        CREATE TABLE daemon_jobs (
            id TEXT PRIMARY KEY,            -- "poll:<wiki>", "digest:<subscription>"
            kind TEXT NOT NULL,             -- "poll" | "digest"
            target TEXT NOT NULL,           -- the wiki or subscription name
            schedule TEXT,                  -- "every 60s", a cron expression...
            active INTEGER NOT NULL DEFAULT 1,
            last_run TEXT,
            last_ok TEXT,
            next_run TEXT,
            last_error TEXT,
            last_error_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            runs INTEGER NOT NULL DEFAULT 0,
            last_summary TEXT
        );
        CREATE TABLE daemon_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER,
            started_at TEXT,
            stopped_at TEXT,
            config TEXT,
            reloaded_at TEXT
        );
        """
    )


def _m030_search_index(db: sqlite_utils.Database) -> None:
    """The search index (tracker.store.search); filled on first use, not here. (A row per
    section text: replaced by 090.)"""
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_blobs "
        f"USING fts5(text, content='', tokenize='{TOKENIZE}')"
    )


def create_search_index(db: sqlite_utils.Database) -> None:
    """The contentless FTS5 index over the distinct paragraphs of section texts, which
    paragraph each is (by hash), which section texts have it, and how far indexing got
    (idempotent)."""
    db.executescript(
        f"""
        CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE}
            USING fts5(text, content='', tokenize='{TOKENIZE}');
        CREATE TABLE IF NOT EXISTS search_paragraph_keys (
            hash BLOB PRIMARY KEY,
            id INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS search_uses (
            paragraph_id INTEGER NOT NULL,
            blob_id INTEGER NOT NULL,
            PRIMARY KEY (paragraph_id, blob_id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS search_progress (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            top_blob INTEGER NOT NULL
        );
        """
    )


def _m040_history_order(db: sqlite_utils.Database) -> None:
    """History order is MediaWiki's (timestamp, then revision id), not the revision id:
    index it; sizes may be unknown (NULL, never the dumps' -1); revisions the wiki deleted
    later are marked; each page can say where its derived data (section ids, stored diffs)
    must be worked out again; each wiki keeps its siteinfo and how far its log was read.
    Derived data that followed id order is re-derived (fetch.ingest.rederive_pending)."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS revisions_history ON revisions (page_id, timestamp, revid)"
    )
    db.table("revisions").transform(not_null={"size": False}, defaults={"size": None})
    db.execute("UPDATE revisions SET size = NULL WHERE size < 0")
    db.execute("ALTER TABLE revisions ADD COLUMN deleted_at TEXT")
    # A revision over the wiki's max_revision_size: its metadata without its text.
    db.execute("ALTER TABLE revisions ADD COLUMN toolarge INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE pages ADD COLUMN rederive_from INTEGER")
    db.execute("ALTER TABLE pages ADD COLUMN checked_at TEXT")
    # When the page's first backfill was complete; until then digests leave it out.
    db.execute("ALTER TABLE pages ADD COLUMN backfilled_at TEXT")
    db.execute("UPDATE pages SET backfilled_at = created_at")
    db.execute("ALTER TABLE wikis ADD COLUMN siteinfo TEXT")
    db.execute("ALTER TABLE wikis ADD COLUMN siteinfo_at TEXT")
    db.execute("ALTER TABLE wikis ADD COLUMN log_checked_at TEXT")
    for (page_id,) in db.execute("SELECT id FROM pages").fetchall():
        by_id = [
            row[0]
            for row in db.execute(
                "SELECT revid FROM revisions WHERE page_id = ? ORDER BY revid", [page_id]
            )
        ]
        in_order = [
            row[0]
            for row in db.execute(
                f"SELECT revid FROM revisions WHERE page_id = ? ORDER BY {HISTORY}", [page_id]
            )
        ]
        first = next((b for a, b in zip(by_id, in_order, strict=True) if a != b), None)
        if first is not None:
            # Section ids and stored diffs followed id order from here: derive them again.
            db.execute("UPDATE pages SET rederive_from = ? WHERE id = ?", [first, page_id])
        if in_order:  # the latest in history order, no longer the highest id
            db.execute("UPDATE pages SET last_revid = ? WHERE id = ?", [in_order[-1], page_id])
        redetect_reverts(db, page_id)  # MediaWiki's radius, in history order


def _m050_derived_diffs(db: sqlite_utils.Database) -> None:
    """Consecutive diffs are derived when asked for, no longer stored (tracker.store.diffs):
    the table that kept them goes (its pages are reused by new data; `VACUUM` gives them
    back to the file system). What each revision changed stays in ``section_changes``."""
    db.execute("DROP TABLE IF EXISTS diffs")


def _m060_delta_texts(db: sqlite_utils.Database) -> None:
    """Section texts as zstd deltas against their previous version (tracker.store.blobs):
    each blob may name the blob it is compressed against and how long its chain is. Texts
    stored before stay zlib streams until `Texts.repack_texts` gets to them, resumably:
    ``store_tasks`` keeps where it got to."""
    db.execute("ALTER TABLE blobs ADD COLUMN base INTEGER REFERENCES blobs(id)")
    db.execute("ALTER TABLE blobs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX blobs_base ON blobs (base) WHERE base IS NOT NULL")
    db.execute("CREATE TABLE store_tasks (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
    if db.execute("SELECT 1 FROM blobs LIMIT 1").fetchone():
        db.execute("INSERT INTO store_tasks (name, position) VALUES ('repack_texts', 0)")


def _m080_packed_layouts(db: sqlite_utils.Database) -> None:
    """A revision's sections as one packed list of *section versions* (tracker.store.texts)
    instead of a row per section: the ``revision_sections`` rows and their index were
    the largest part of a long history's database. Versions are numbered per page in
    history order, as the ingest numbers them."""
    db.executescript(
        """
        CREATE TABLE section_versions (
            id INTEGER PRIMARY KEY,
            page_id INTEGER NOT NULL REFERENCES pages(id),
            section_id TEXT NOT NULL,
            blob_id INTEGER NOT NULL REFERENCES blobs(id),
            UNIQUE (page_id, section_id, blob_id)
        );
        CREATE INDEX section_versions_blob ON section_versions (blob_id);
        CREATE TABLE layouts (
            rev_id INTEGER PRIMARY KEY REFERENCES revisions(id),
            ids BLOB NOT NULL
        );
        """
    )
    for (page_id,) in db.execute("SELECT id FROM pages ORDER BY id").fetchall():
        versions: dict[tuple[str, int], int] = {}
        layouts = []
        rows = db.execute(
            "SELECT r.id, s.section_id, s.blob_id FROM revisions r JOIN revision_sections s "
            "ON s.rev_id = r.id WHERE r.page_id = ? ORDER BY r.timestamp, r.revid, s.idx",
            [page_id],
        )
        current: int | None = None
        ids: list[int] = []
        for rev_id, section_id, blob_id in rows:
            if rev_id != current:
                if current is not None:
                    layouts.append((pack_ids(ids), current))
                current, ids = rev_id, []
            version = versions.get((section_id, blob_id))
            if version is None:
                cursor = db.execute(
                    "INSERT INTO section_versions (page_id, section_id, blob_id) VALUES (?, ?, ?)",
                    [page_id, section_id, blob_id],
                )
                version = versions[(section_id, blob_id)] = int(cursor.lastrowid or 0)
            ids.append(version)
        if current is not None:
            layouts.append((pack_ids(ids), current))
        db.conn.executemany("INSERT INTO layouts (ids, rev_id) VALUES (?, ?)", layouts)
    db.execute("DROP TABLE revision_sections")


def _m090_paragraph_index(db: sqlite_utils.Database) -> None:
    """The search index holds each distinct *paragraph* of the section texts once, not each
    section text: most versions of a section differ in one paragraph, and indexing every
    version whole made the index half of a long history's database. The old index goes;
    the new one is built on first use (tracker.store.search), as the old one was."""
    db.execute("DROP TABLE IF EXISTS search_blobs")
    create_search_index(db)


def _m100_section_paths(db: sqlite_utils.Database) -> None:
    """A section change names its heading path by id (``section_paths``): a page has a few
    hundred paths and tens of thousands of changes, and the path written out in each was
    the largest part of ``section_changes``."""
    db.executescript(
        """
        CREATE TABLE section_paths (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE
        );
        INSERT INTO section_paths (path) SELECT DISTINCT path FROM section_changes ORDER BY path;
        CREATE TABLE section_changes_new (
            rev_id INTEGER NOT NULL REFERENCES revisions(id),
            section_id TEXT NOT NULL,
            kinds TEXT NOT NULL,
            path_id INTEGER NOT NULL REFERENCES section_paths(id),
            words_added INTEGER NOT NULL,
            words_removed INTEGER NOT NULL,
            PRIMARY KEY (rev_id, section_id)
        ) WITHOUT ROWID;
        INSERT INTO section_changes_new
            SELECT c.rev_id, c.section_id, c.kinds, p.id, c.words_added, c.words_removed
            FROM section_changes c JOIN section_paths p ON p.path = c.path;
        DROP TABLE section_changes;
        ALTER TABLE section_changes_new RENAME TO section_changes;
        CREATE INDEX section_changes_section ON section_changes (section_id);
        """
    )


def _m110_user_groups(db: sqlite_utils.Database) -> None:
    """The wiki's user groups of each editor, asked for and kept for a while (what makes an
    edit a bot's: tracker.model.is_bot); a backfill's expected size and its process, for
    `tracker status` to tell one in progress from one interrupted."""
    db.executescript(
        """
        CREATE TABLE user_groups (
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            name TEXT NOT NULL,
            groups TEXT,
            checked_at TEXT NOT NULL,
            PRIMARY KEY (wiki_id, name)
        ) WITHOUT ROWID;
        ALTER TABLE pages ADD COLUMN backfill_total INTEGER;
        ALTER TABLE pages ADD COLUMN backfill_pid INTEGER;
        """
    )


def _m120_subscription_alerts(db: sqlite_utils.Database) -> None:
    """What each subscription's alerts have told (alerts.py): a wiki or watch seen failing,
    since when, and whether its alert went out, so that a restart never tells it twice."""
    db.executescript(
        """
        CREATE TABLE subscription_alerts (
            subscription TEXT NOT NULL,
            target TEXT NOT NULL,            -- JSON: ["wiki", name] or ["watch", wiki, title]
            failing_since TEXT NOT NULL,
            error TEXT,                      -- the last error seen
            alerted_at TEXT,                 -- when the alert was recorded; NULL: not yet
            PRIMARY KEY (subscription, target)
        ) WITHOUT ROWID;
        """
    )


def _m140_watch_failing_since(db: sqlite_utils.Database) -> None:
    """Since when a watch's polls have failed in a row (NULL: its last poll worked), for
    alerts (the latest error's time alone tells only the last failure)."""
    db.executescript("ALTER TABLE watches ADD COLUMN failing_since TEXT;")


def _m130_readable_views(db: sqlite_utils.Database) -> None:
    """Views for SQL tools (Datasette): revisions with their wiki, title and wikitext, each
    section version with its text, section changes with their heading path. The texts come
    from the SQL functions of tracker.store.sqlfunctions (Datasette's plugin defines them);
    elsewhere a query of those columns fails with "no such function"."""
    db.executescript(
        """
        CREATE VIEW revision_texts AS
            SELECT r.id AS rev_id, w.name AS wiki, p.title, r.revid, r.parentid, r.timestamp,
                r.user, r.comment, r.minor, r.size, r.sha1, r.has_text,
                revision_text(r.id) AS text
            FROM revisions r JOIN pages p ON p.id = r.page_id JOIN wikis w ON w.id = r.wiki_id;
        CREATE VIEW section_texts AS
            SELECT v.id AS version_id, w.name AS wiki, p.title, v.section_id, v.blob_id,
                tracker_text(v.blob_id) AS text
            FROM section_versions v JOIN pages p ON p.id = v.page_id
            JOIN wikis w ON w.id = p.wiki_id;
        CREATE VIEW section_change_list AS
            SELECT w.name AS wiki, p.title, r.revid, r.timestamp, r.user, c.section_id,
                sp.path AS path, c.kinds, c.words_added, c.words_removed
            FROM section_changes c JOIN revisions r ON r.id = c.rev_id
            JOIN pages p ON p.id = r.page_id JOIN wikis w ON w.id = p.wiki_id
            JOIN section_paths sp ON sp.id = c.path_id;
        """
    )


def _m150_watch_sets(db: sqlite_utils.Database) -> None:
    """Topic watches (watchsets.py): each watch set of a wiki, the pages in it with when
    each joined and left, the templates each watched page uses (cascade); how far a wiki's
    recent changes (and its stream of them) were read, when all its pages were last
    reconciled; the watches recent changes named that were not polled yet."""
    db.executescript(
        """
        CREATE TABLE watch_sets (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            key TEXT NOT NULL,               -- "category:Physics", "cascade:<watch key>"
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            refreshed_at TEXT,               -- the wiki's list last read whole
            refresh_error TEXT,
            next_poll REAL,                  -- when the daemon polls its pages next
            tree TEXT,                       -- JSON: a category set's subcategories
            added_at TEXT NOT NULL,
            UNIQUE (wiki_id, key)
        );
        CREATE TABLE set_members (
            id INTEGER PRIMARY KEY,
            set_id INTEGER NOT NULL REFERENCES watch_sets(id),
            pageid INTEGER NOT NULL,         -- the wiki's page id
            title TEXT NOT NULL,
            ns INTEGER NOT NULL DEFAULT 0,
            joined_at TEXT NOT NULL,
            left_at TEXT,                    -- NULL: a member now
            via TEXT NOT NULL DEFAULT 'list' -- what told: 'list', 'recentchanges', 'first'
        );
        CREATE UNIQUE INDEX set_members_now ON set_members (set_id, pageid)
            WHERE left_at IS NULL;
        CREATE INDEX set_members_changes ON set_members (set_id, joined_at);
        CREATE TABLE template_uses (
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            pageid INTEGER NOT NULL,         -- a watched page
            template_pageid INTEGER NOT NULL,
            PRIMARY KEY (wiki_id, pageid, template_pageid)
        ) WITHOUT ROWID;
        CREATE INDEX template_uses_template ON template_uses (wiki_id, template_pageid);
        ALTER TABLE watches ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE wikis ADD COLUMN rc_timestamp TEXT;
        ALTER TABLE wikis ADD COLUMN rc_id INTEGER;
        ALTER TABLE wikis ADD COLUMN reconciled_at TEXT;
        ALTER TABLE wikis ADD COLUMN stream_position TEXT;
        """
    )


def _m160_watches_by_page(db: sqlite_utils.Database) -> None:
    """A watch found by its page: the pages of a set with their watches, every cycle."""
    db.executescript("CREATE INDEX IF NOT EXISTS watches_page ON watches (page_id);")


Step = Callable[[sqlite_utils.Database], None]

MIGRATIONS: list[tuple[str, Step]] = [
    ("001_initial", _m001_initial),
    ("010_digests", _m010_digests),
    ("020_daemon_jobs", _m020_daemon_jobs),
    ("030_search_index", _m030_search_index),
    ("040_history_order", _m040_history_order),
    ("050_derived_diffs", _m050_derived_diffs),
    ("060_delta_texts", _m060_delta_texts),
    ("080_packed_layouts", _m080_packed_layouts),
    ("090_paragraph_index", _m090_paragraph_index),
    ("100_section_paths", _m100_section_paths),
    ("110_user_groups", _m110_user_groups),
    ("120_subscription_alerts", _m120_subscription_alerts),
    ("130_readable_views", _m130_readable_views),
    ("140_watch_failing_since", _m140_watch_failing_since),
    ("150_watch_sets", _m150_watch_sets),
    ("160_watches_by_page", _m160_watches_by_page),
]
