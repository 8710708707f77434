"""The emotion log's write path into PostgreSQL: sustained observations per second from N server
processes, by batch size, and the connections each server holds.

    .venv/bin/python bench/db_write.py [--url postgresql+psycopg://...] [--seconds 5]

Without --url a private PostgreSQL server (Debian's, fsync on) is started in a temporary folder and
stopped afterwards (tests/postgres.py). Every process is one app server: it opens an `EmotionLog`
(the product's own write path) and
- "max" rows: queues B observations and flushes them (one transaction of B rows), as fast as it can;
- "load" rows: queues its share of 100 cameras x 5 people at one observation per 0.5 s (1000/s in
  all) through the write-behind queue as the app does, then reports how far storing lagged behind.
Last, one person is forgotten, which rewrites the tables (VACUUM FULL) to erase their rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from emotion_core.store import EmotionLog, Observation  # noqa: E402

PEOPLE_PER_CAMERA = 5
CAMERAS = 100
SAMPLE_PERIOD_S = 0.5


def _rows(n: int, now: float) -> list[Observation]:
    return [Observation(now, f"Person {i % 50}", "Happy", 0.9) for i in range(n)]


def _max_rate(url: str, batch: int, seconds: float, start: float, out: multiprocessing.Queue) -> None:
    log = EmotionLog(url)
    session = log.start_session(time.time(), None, {})
    while time.time() < start:
        time.sleep(0.01)
    stored = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        log.add_observations(session, _rows(batch, time.time()))
        if not log.flush(30):
            raise RuntimeError(log.last_error)
        stored += batch
    out.put(stored / (time.monotonic() - began))
    log.close()


def _offered_load(url: str, cameras: int, seconds: float, start: float, out: multiprocessing.Queue) -> None:
    log = EmotionLog(url)
    sessions = [log.start_session(time.time(), None, {}) for _ in range(cameras)]
    while time.time() < start:
        time.sleep(0.01)
    began = time.monotonic()
    ticks = 0
    while time.monotonic() - began < seconds:
        now = time.time()
        for session in sessions:  # every camera: each of its people once per sampling period
            log.add_observations(session, _rows(PEOPLE_PER_CAMERA, now))
        ticks += 1
        time.sleep(max(0.0, began + ticks * SAMPLE_PERIOD_S - time.monotonic()))
    offered_at = time.monotonic()
    ok = log.flush(60)
    lag = time.monotonic() - offered_at
    out.put((ticks * cameras * PEOPLE_PER_CAMERA, lag, ok))
    log.close()


def _connections(url: str) -> int:
    """Open connections of the product's processes (application_name emotion-core) right now."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'emotion-core'"
            return int(conn.execute(text(query)).scalar() or 0)
    finally:
        engine.dispose()


def run(target: Callable[..., None], url: str, processes: int, *args: object) -> tuple[list, int]:
    """Run `target` in `processes` processes at once; return their results and the peak connections."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = context.Queue()
    start = time.time() + 4.0  # every process has opened its log by then
    workers = [context.Process(target=target, args=(url, *args, start, out)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    peak = 0
    while any(worker.is_alive() for worker in workers) and out.qsize() < processes:
        if time.time() > start + 1:
            peak = max(peak, _connections(url))
        time.sleep(0.5)
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    return results, peak


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.postgres import postgres_server

    with postgres_server(fsync=True) as server:
        yield server.create_database("bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a PostgreSQL URL (default: a private server, started and stopped here)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    with database(args.url) as url:
        print("| server processes | rows per transaction | observations/s (all servers) | connections per server |")
        print("|---|---|---|---|")
        for processes in args.processes:
            for batch in args.batches:
                rates, peak = run(_max_rate, url, processes, batch, args.seconds)
                print(f"| {processes} | {batch} | {sum(rates):,.0f} | {peak / processes:.1f} |")
        print()
        print(f"Offered load: {CAMERAS} cameras x {PEOPLE_PER_CAMERA} people every {SAMPLE_PERIOD_S} s")
        print("| server processes | offered obs/s | stored | lag after the last one (s) | connections per server |")
        print("|---|---|---|---|---|")
        for processes in args.processes:
            results, peak = run(_offered_load, url, processes, CAMERAS // processes, args.seconds * 2)
            offered = sum(n for n, _, _ in results)
            lag = statistics.median(lag for _, lag, _ in results)
            stored = "all" if all(ok for _, _, ok in results) else "NOT all"
            rate = offered / (args.seconds * 2)
            print(f"| {processes} | {rate:,.0f} | {stored} | {lag:.2f} | {peak / processes:.1f} |")
        print()
        log = EmotionLog(url)
        try:
            rows = len(log.observations())
            began = time.monotonic()
            forgotten = log.forget_person("Person 7")
            print(
                f"Erasure: forget one of 50 people ({forgotten:,} of {rows:,} observations) including "
                f"VACUUM FULL of the tables: {time.monotonic() - began:.1f} s"
            )
        finally:
            log.close()


if __name__ == "__main__":
    main()
