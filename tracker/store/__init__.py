"""The store: the only code with SQL or knowledge of how texts are kept (tracker.store.db)."""

from tracker.store.db import (
    BUSY_TIMEOUT_MS,
    HISTORY,
    HISTORY_DESC,
    MIGRATIONS,
    Store,
    register_migration,
    store_error_message,
    utcnow,
)

__all__ = ["BUSY_TIMEOUT_MS", "HISTORY", "HISTORY_DESC", "MIGRATIONS", "Store",
           "register_migration", "store_error_message", "utcnow"]
