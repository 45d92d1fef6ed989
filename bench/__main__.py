"""`make bench`: every measurement, on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import sys

from bench import analytics, checkin, console_pages, nightly, whatif
from bench.harness import postgres_available, postgres_database, print_table, sqlite_database


def main() -> int:
    rows = []
    with sqlite_database() as url:
        rows += console_pages.run(url, "sqlite")
    with sqlite_database() as url:
        rows += checkin.run(url, "sqlite")
    with sqlite_database() as url:
        rows += whatif.run(url, "sqlite")
    if postgres_available():
        with postgres_database() as url:
            rows += console_pages.run(url, "postgresql")
        with postgres_database() as url:
            rows += checkin.run(url, "postgresql")
        with postgres_database() as url:
            rows += whatif.run(url, "postgresql")
        with postgres_database() as url:
            rows += nightly.run(url)
        with postgres_database() as url:
            rows += analytics.run(url, "postgresql")
    else:
        print("PostgreSQL not reachable on 127.0.0.1:5432: SQLite only.", file=sys.stderr)
    print()
    print("ratio = median / floor, both measured in this run on the same database")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
