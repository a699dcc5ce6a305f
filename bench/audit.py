"""`mosaic audit verify` speed on a large log, against a plain decode of the same events in the same run.

Makes (or reuses) a history of N events with bench/make_history.py, then times:
  baseline: read every event row and decode its JSON body (the least any replay must do);
  verify:   the full audit (rules, chain recomputed and compared, views compared, digest checked).
Target: 1,000,000 events verified in <= 10 s on this machine. The history is kept between runs: delete
the file after a change to how events are stored (a history written before bodies were stored as
canonical JSON verifies the slow way).

    .venv/bin/python bench/audit.py [--events 1000000] [--db /tmp/mosaic-audit-bench.db]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_history import make_history

from mosaic.commands.schema import upgrade
from mosaic.config import DatabaseUrl
from mosaic.queries import digest as digests
from mosaic.queries.audit_log import iter_log, verify_database
from mosaic.queries.db import Database
from mosaic.queries.views import Views

SECRET = ("bench-secret-" + "x" * 40).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/mosaic-audit-bench.db")
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    database = DatabaseUrl.parse(url)
    if not Path(args.db).exists():
        upgrade(database)
        make_history(url, args.events, SECRET.decode())
    db = Database(database)
    head = Views(db).chain_head()
    assert head is not None
    digest = digests.sign(SECRET, position=head[0], hash_hex=head[1])

    started = time.perf_counter()
    decoded = sum(1 for _ in iter_log(db))
    baseline_s = time.perf_counter() - started

    report = verify_database(db, digest=digest, trusted_key=digests.public_key_hex(SECRET))
    verify_s = report.seconds
    started = time.perf_counter()
    report = verify_database(db, digest=digest, trusted_key=digests.public_key_hex(SECRET))
    total_s = time.perf_counter() - started
    print(f"events: {report.events:,} ({decoded:,} decoded), accounts: {report.accounts}, ok: {report.ok}")
    print(f"plain read + decode: {baseline_s:6.2f} s  {decoded / baseline_s:10,.0f} events/s")
    print(f"audit replay+chain:  {verify_s:6.2f} s  {report.events / verify_s:10,.0f} events/s")
    print(f"audit verify, all:   {total_s:6.2f} s  {report.events / total_s:10,.0f} events/s  (target <= 10 s for 1M)")
    print(f"ratio verify/decode: {total_s / baseline_s:.2f}x the time of a plain decode")


if __name__ == "__main__":
    main()
