"""Key usage ('last used'): an operational record, not an event and not a projection.

Written at most once per key per `TOUCH_INTERVAL_S` per process, so a busy key costs no extra write
per request; it is not rebuilt from the log and holds no secret.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from mosaic.queries.db import Database

TOUCH_INTERVAL_S = 60.0


class KeyUsage:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._last_touch: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, key_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last_touch.get(key_id)
            if last is not None and now - last < TOUCH_INTERVAL_S:
                return
            self._last_touch[key_id] = now
        at = datetime.now(UTC).isoformat()
        with self.db.write(durable=False) as tx:
            tx.execute("DELETE FROM key_usage WHERE key_id = ?", (key_id,))
            tx.execute("INSERT INTO key_usage (key_id, last_used_at) VALUES (?, ?)", (key_id, at))
