"""The store: the only code with SQL or knowledge of how texts are kept.

``Store`` (db.py) is the database, its methods defined by one module per thing its tables
are about (wikis, pages, watches, revisions, texts, diffs); digests.py, jobs.py and search.py
are functions over a Store for the later stages. The schema is schema.py's one ordered list
of migrations; how values are encoded, encoding.py's.
"""

from tracker.store.base import BUSY_TIMEOUT_MS, store_error_message
from tracker.store.db import Store
from tracker.store.encoding import utcnow
from tracker.store.schema import MIGRATIONS

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "Store", "store_error_message", "utcnow"]
