"""`make loadtest`: the product tried as an operator runs it, under load, with faults.

A PostgreSQL cluster and a Redis of the test's own on free ports (the machine's shared ones are
never touched), migrated and seeded with a dealer group (bench/load_seed.py); gunicorn with four
workers and one RQ worker. Then 100 tablets walk visitors through the kiosk for five minutes
(new and returning mobile numbers, now and then two tablets with the same new number at once)
while the stores' consultants receive them from their start pages (bench/load_clients.py), and
the faults come one after the other:

(a) kill -9 of the gunicorn worker that is in the middle of a check-in's transaction (found in
    pg_stat_activity), and the visitor sends the same form again;
(b) the Redis restarted: kiosk and staff sign-in go on, the queue works again after;
(c) the PostgreSQL stopped for a few seconds: the kiosk answers 503 meanwhile (never 500), and
    the consents sent again after it give one visit each;
(d) every store's nightly run, during the load, then twice after it through the managers' Run
    now (the second changes nothing), then two at once for one store (one works, the other
    records itself as skipped).

At the end the invariants are read from the database (bench/load_checks.py) and the run prints
a markdown table; ``--write-readme`` puts it in README.md. Exit status 1 if any invariant or
fault check fails. ``--quick``: a smaller run of the same (about a minute), the smoke test's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import load_checks as checks
from bench.load_clients import (
    Consultant,
    Recorder,
    Shared,
    Staff,
    Tablet,
    manager_run_now,
)
from bench.load_seed import Seeded, seed
from bench.load_services import ROOT, Deployment, socket_owners
from core.db import utcnow

BEGIN, END = "<!-- loadtest:begin -->", "<!-- loadtest:end -->"


@dataclass(frozen=True)
class Mode:
    name: str
    stores: int
    consultants: int
    tablets_per_store: int
    load_seconds: float
    think: tuple[float, float]
    reception: tuple[float, float]
    room: tuple[int, int]  # how far below their cap consultants start
    kills: int
    redis_down: float
    postgres_down: float
    returning_share: float = 0.35

    @property
    def tablets(self) -> int:
        return self.stores * self.tablets_per_store


FULL = Mode(
    name="full",
    stores=10,
    consultants=6,
    tablets_per_store=10,
    load_seconds=300,
    think=(1.0, 3.0),
    reception=(3.0, 9.0),
    room=(8, 16),
    kills=3,
    redis_down=5,
    postgres_down=12,
)
QUICK = Mode(
    name="quick",
    stores=3,
    consultants=4,
    tablets_per_store=6,
    load_seconds=25,
    think=(0.3, 1.0),
    reception=(1.0, 3.0),
    room=(1, 4),
    kills=1,
    redis_down=2,
    postgres_down=5,
)


@dataclass
class Fault:
    name: str
    detail: str
    ok: bool


@dataclass
class Run:
    mode: Mode
    started: float = field(default_factory=time.monotonic)
    faults: list[Fault] = field(default_factory=list)
    postgres_window: tuple[float, float] | None = None  # from the stop to ready again
    postgres_down: tuple[float, float] | None = None  # surely down
    kills: int = 0
    setup_seconds: float = 0.0
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])
    above_cap_after_night: int = -1
    notes: list[str] = field(default_factory=list)

    def fault(self, name: str, detail: str, ok: bool) -> None:
        self.faults.append(Fault(name, detail, ok))
        print(f"  [{'ok' if ok else 'FAILED'}] {name}: {detail}", flush=True)


def log(text: str) -> None:
    print(text, flush=True)


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--write-readme", action="store_true", help="put the table in README.md")
    parser.add_argument("--seconds", type=float, help="length of the load (default by mode)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs of a good run")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.seconds:
        mode = Mode(**{**mode.__dict__, "load_seconds": args.seconds})

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, terminate)
    deployment = Deployment()
    ok = False
    try:
        table, ok = play(mode, deployment)
        print()
        print(table)
        if args.write_readme:
            write_readme(table)
            log("README.md updated.")
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
        deployment.close()
        if ok and not args.keep_logs:
            deployment.discard_logs()
        else:
            log(f"logs kept in {deployment.logs}")
    return 0 if ok else 1


def play(mode: Mode, dep: Deployment) -> tuple[str, bool]:
    run = Run(mode)
    log(f"load test ({mode.name}): own PostgreSQL and Redis, migrations, seed")
    dep.start_services()
    services = time.monotonic()
    dep.migrate()
    migrated = time.monotonic()
    dep.start_gunicorn()  # its workers boot while the data is seeded
    dep.start_worker()
    seeded = seed(
        dep.database_url,
        stores=mode.stores,
        consultants=mode.consultants,
        kiosks_per_store=mode.tablets_per_store + 1,
        room=mode.room,
    )
    seeded_at = time.monotonic()
    engine = checks.engine_for(dep.database_url)
    stop = threading.Event()
    try:
        dep.wait_gunicorn()
        run.setup_seconds = time.monotonic() - run.started
        log(
            f"  ready in {run.setup_seconds:.0f} s (services {services - run.started:.0f} s, "
            f"migrations {migrated - services:.0f} s, seed {seeded_at - migrated:.0f} s): "
            f"{seeded.counts}"
        )
        shared = Shared(
            base_url=dep.base_url,
            secret_key=dep.secret_key,
            recorder=Recorder(),
            stop=stop,
            think=mode.think,
            returning_share=mode.returning_share,
            count_visits=lambda s, k, m: checks.count_visits(engine, s, k, m),
            ramp=min(8.0, mode.load_seconds / 10),
        )
        since = utcnow() - timedelta(seconds=1)
        managers, consultants = sign_in_staff(shared, seeded, mode)
        tablets = [
            Tablet(shared, store, n, token, seed=1000 * store.index + n)
            for store in seeded.stores
            for n, token in enumerate(store.kiosk_tokens[: mode.tablets_per_store])
        ]
        # one more tablet, for the consent sent in the middle of the database outage
        spare = Tablet(
            shared,
            seeded.stores[0],
            mode.tablets_per_store,
            seeded.stores[0].kiosk_tokens[-1],
            seed=99,
        )
        spare.think_time = (0.0, 0.0)
        load_started = time.monotonic()
        for thread in [*consultants, *tablets]:
            thread.start()
        log(f"load: {len(tablets)} tablets, {len(consultants)} consultants")
        nightly_during = faults_during_load(
            run, dep, engine, shared, seeded, managers, load_started, spare
        )
        remaining = load_started + mode.load_seconds - time.monotonic()
        if remaining > 0:
            shared.stop.wait(remaining)
        shared.stop.set()
        for thread in tablets:
            thread.join(timeout=90)
        for thread in consultants:
            thread.join(timeout=30)
        load_seconds = time.monotonic() - load_started
        stuck = [t.name for t in [*tablets, *consultants] if t.is_alive()]
        if stuck:
            run.notes.append(f"clients still running at the end: {len(stuck)}")
        log(f"  load over after {load_seconds:.0f} s")
        finish_nightly_during(run, engine, nightly_during, len(seeded.stores))
        nightly_after_load(run, dep, engine, seeded, managers)
        return report(run, dep, engine, shared, seeded, since, load_seconds, len(consultants))
    finally:
        stop.set()  # the clients stop too when the run is cut short
        engine.dispose()


def sign_in_staff(
    shared: Shared, seeded: Seeded, mode: Mode
) -> tuple[dict[int, Staff], list[Consultant]]:
    """Every manager and consultant signed in, each from an address of their own."""
    managers: dict[int, Staff] = {}
    staff: list[tuple[Staff, int]] = []
    for store in seeded.stores:
        managers[store.id] = Staff(shared, f"10.2.{store.index}.1", store.manager, seeded.password)
        for n, username in enumerate(store.consultants):
            address = f"10.3.{store.index}.{n + 1}"
            staff.append((Staff(shared, address, username, seeded.password), 7 * store.index + n))
    deadline = time.monotonic() + 90
    with ThreadPoolExecutor(max_workers=4) as pool:
        everyone = [*managers.values(), *(member for member, _ in staff)]
        list(pool.map(lambda member: member.sign_in_until_done(deadline), everyone))
    consultants = [Consultant(shared, member, mode.reception, seed=n) for member, n in staff]
    return managers, consultants


# --- the faults during the load ------------------------------------------------------------------


def at(load_started: float, fraction: float, mode: Mode, stop: threading.Event) -> None:
    """Wait until this fraction of the load has passed."""
    delay = load_started + fraction * mode.load_seconds - time.monotonic()
    if delay > 0:
        stop.wait(delay)


def faults_during_load(
    run: Run,
    dep: Deployment,
    engine: Any,
    shared: Shared,
    seeded: Seeded,
    managers: dict[int, Staff],
    load_started: float,
    spare: Tablet,
) -> int:
    mode = run.mode
    at(load_started, 0.15, mode, shared.stop)
    kill_mid_checkin(run, dep, engine, shared)
    at(load_started, 0.35, mode, shared.stop)
    restart_redis(run, dep, engine, shared, seeded)
    at(load_started, 0.55, mode, shared.stop)
    stop_postgres(run, dep, shared, spare)
    at(load_started, 0.8, mode, shared.stop)
    # every store's nightly run while the tablets go on (a night that ran late)
    before = checks.last_run_id(engine)
    for manager in managers.values():
        manager_run_now(manager)
    return before


def kill_mid_checkin(run: Run, dep: Deployment, engine: Any, shared: Shared) -> None:
    """kill -9 of the gunicorn worker whose database connection is inside a check-in's
    transaction (pg_stat_activity names the connection's port, /proc the process holding it),
    until ``mode.kills`` check-ins were cut that way (a kill may land just after the commit, on
    the worker's next request: it is tried again, a few times at most)."""
    wanted = run.mode.kills
    budget = time.monotonic() + 12 * wanted + 10
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        while run.kills < wanted + 4 and time.monotonic() < budget:
            owners = socket_owners(dep.gunicorn_pids())
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ports = checks.checkins_in_flight(conn)
                pid = next((owners[p] for p in ports if p in owners), None)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    run.kills += 1
                    break
                if any(p not in owners for p in ports):  # a new worker's connection
                    owners = socket_owners(dep.gunicorn_pids())
                time.sleep(0.002)
            # gunicorn starts a new worker; let it come up before the next kill
            deadline = time.monotonic() + 20
            while len(dep.gunicorn_pids()) < dep.gunicorn_workers and time.monotonic() < deadline:
                time.sleep(0.1)
            shared.stop.wait(1.5)
            if sum(1 for r in shared.checkins if r.cut) >= wanted:
                break
    log(f"  (a) kill -9 of {run.kills} gunicorn workers in the middle of a check-in")


def restart_redis(run: Run, dep: Deployment, engine: Any, shared: Shared, seeded: Seeded) -> None:
    """Redis away for a few seconds, then back empty: sign-in and the kiosk go on (limits in
    each process's memory meanwhile), the queue works again after."""
    store = seeded.stores[0]
    down_at = time.monotonic()
    dep.redis.stop()
    shared.stop.wait(0.5)
    probe = Staff(shared, "10.9.0.1", store.manager, seeded.password)
    signed_in_while_down = probe.sign_in("console sign-in")
    health = probe.send("health poll", "GET", "/healthz")
    limits_while_down = _rate_limits(health)
    remaining = down_at + run.mode.redis_down - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    dep.redis.start()
    up_at = time.monotonic()
    time.sleep(1)
    probe = Staff(shared, "10.9.0.2", store.manager, seeded.password)
    signed_in_after = probe.sign_in("console sign-in")
    checkins_while_down = sum(
        1
        for s in shared.recorder.samples
        if s.kind == "kiosk check-in" and s.status == 303 and down_at <= s.at <= up_at
    )
    # the test job of the admin's System page goes through the queue to the worker
    admin = Staff(shared, "10.9.0.3", seeded.admin, seeded.password)
    admin.sign_in()
    before = checks.last_run_id(engine)
    manager_run_now(admin, "/console/system")
    probe_runs = checks.wait_runs(engine, before, 1, timeout=90, kind="probe")
    probe_status = probe_runs[0]["status"] if probe_runs else "not made"
    worker_alive = all(w.poll() is None for w in dep.workers)
    ok = (
        signed_in_while_down == 302
        and signed_in_after == 302
        and probe_status == "succeeded"
        and worker_alive
    )
    run.fault(
        "Redis restarted",
        f"down {up_at - down_at:.0f} s; staff sign-in while down: {signed_in_while_down}, "
        f"after: {signed_in_after}; rate limits while down: {limits_while_down}; "
        f"kiosk check-ins while down: {checkins_while_down}; test job through the queue "
        f"after: {probe_status}; RQ worker {'running' if worker_alive else 'DIED'}",
        ok,
    )


def _rate_limits(health: Any) -> str:
    try:
        return str(health.json()["rate_limits"]["status"])
    except Exception:
        return "unknown"


def stop_postgres(run: Run, dep: Deployment, shared: Shared, spare: Tablet) -> None:
    """The database stopped (fast shutdown: every connection cut) and started again. A tablet
    of its own sends a consent in the middle of it, which must wait for the service and give
    one visit once sent again (the load's tablets meet the outage wherever they are)."""
    record, html = spare.up_to_consent()
    stopping = time.monotonic()
    dep.postgres.stop()
    down = time.monotonic()
    visitor = threading.Thread(target=spare.check_in, args=(record, html), daemon=True)
    visitor.start()
    shared.stop.wait(run.mode.postgres_down)
    starting = time.monotonic()
    dep.postgres.start()
    # surely down from the end of the stop to the start; 503s are expected a little longer
    run.postgres_down = (down, starting)
    run.postgres_window = (stopping, time.monotonic())
    visitor.join(timeout=60)
    log(f"  (c) PostgreSQL stopped for {starting - down:.0f} s")


def finish_nightly_during(run: Run, engine: Any, before: int, stores: int) -> None:
    runs = checks.wait_runs(engine, before, stores, timeout=120)
    statuses = Counter(r["status"] for r in runs)
    run.fault(
        "nightly run during the load",
        f"{stores} stores' runs while the tablets went on: "
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        + f" ({summed(runs)})",
        statuses.get("succeeded", 0) == stores and len(runs) == stores,
    )


def summed(runs: list[dict[str, Any]]) -> str:
    """The runs' counts added up, those above 0."""
    total: Counter[str] = Counter()
    for r in runs:
        total.update({k: int(v) for k, v in (r.get("counts") or {}).items()})
    return ", ".join(f"{k} {v}" for k, v in sorted(total.items()) if v) or "nothing to do"


# --- the nightly run after the load --------------------------------------------------------------


def nightly_after_load(
    run: Run, dep: Deployment, engine: Any, seeded: Seeded, managers: dict[int, Staff]
) -> None:
    stores = len(seeded.stores)
    rounds = []
    for _ in range(2):
        before = checks.last_run_id(engine)
        for manager in managers.values():
            manager_run_now(manager)
        rounds.append(checks.wait_runs(engine, before, stores, timeout=180))
        rounds[-1].append({"snapshot": checks.snapshot(engine)})
    first, second = rounds[0][:-1], rounds[1][:-1]
    same_state = rounds[0][-1]["snapshot"] == rounds[1][-1]["snapshot"]
    second_changes = sum(checks.changes(r["counts"]) for r in second)
    unplaced = [
        (r1["counts"] or {}).get("unplaced") == (r2["counts"] or {}).get("unplaced")
        for r1, r2 in zip(first, second, strict=False)
    ]
    all_succeeded = all(r["status"] == "succeeded" for r in [*first, *second])
    shown = summed(first)
    run.fault(
        "nightly run twice",
        f"first: {sum(r['status'] == 'succeeded' for r in first)}/{stores} succeeded ({shown}); "
        f"second: {sum(r['status'] == 'succeeded' for r in second)}/{stores} succeeded, "
        f"{second_changes} changes, database {'unchanged' if same_state else 'CHANGED'}",
        all_succeeded
        and len(first) == stores
        and len(second) == stores
        and second_changes == 0
        and all(unplaced)
        and same_state,
    )
    above = checks.above_cap(engine, [s.id for s in seeded.stores])
    run.above_cap_after_night = len(above)
    two_at_once(run, dep, engine, seeded, managers)


def two_at_once(
    run: Run, dep: Deployment, engine: Any, seeded: Seeded, managers: dict[int, Staff]
) -> None:
    """Two runs of one store at once, on two workers: the first held inside its transaction
    (we hold the store's lock, as a long check-in would), the second started meanwhile."""
    store = seeded.stores[-1]
    manager = managers[store.id]
    before = checks.last_run_id(engine)
    gate = checks.hold_store(engine, store.id)
    second_worker = None
    try:
        manager_run_now(manager)
        deadline = time.monotonic() + 60
        while checks.lock_waiters(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        manager_run_now(manager)
        second_worker = dep.start_worker(burst=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = checks.runs_after(engine, before)
            if any(r["status"] == "skipped" for r in runs):
                break
            time.sleep(0.2)
    finally:
        gate.rollback()
        gate.close()
    runs = checks.wait_runs(engine, before, 2, timeout=120)
    if second_worker is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            second_worker.wait(timeout=60)
    statuses = sorted(r["status"] for r in runs)
    reason = next((r["error"] for r in runs if r["status"] == "skipped"), None)
    changed = sum(checks.changes(r["counts"]) for r in runs if r["status"] == "succeeded")
    run.fault(
        "two nightly runs at once",
        f"store {store.code}, two workers: {' + '.join(statuses)}"
        + (f" ({reason})" if reason else "")
        + f"; the one that ran changed {changed}",
        statuses == ["skipped", "succeeded"] and changed == 0,
    )


# --- the report ----------------------------------------------------------------------------------

GROUPS = [
    ("kiosk check-in (consent POST)", {"kiosk check-in"}),
    ("kiosk steps (number, name, interest POST)", {"kiosk step"}),
    ("kiosk pages (GET)", {"kiosk page"}),
    ("console arrivals poll", {"console arrivals poll"}),
    ("console reception start/end, presence", {"console action"}),
    ("console pages and sign-in", {"console page", "console sign-in"}),
    ("console Run now, test job", {"console run now"}),
    ("/healthz (outage page, probes)", {"health poll"}),
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(
    run: Run,
    dep: Deployment,
    engine: Any,
    shared: Shared,
    seeded: Seeded,
    since: Any,
    load_seconds: float,
    n_consultants: int,
) -> tuple[str, bool]:
    samples = shared.recorder.samples
    window = run.postgres_window
    dump_samples(dep.logs / "samples.tsv", samples, run)
    grace = 5.0

    def in_outage(at: float) -> bool:
        return window is not None and window[0] - 0.5 <= at <= window[1] + grace

    lines = ["| what | requests | per s | p50 ms | p95 ms | p99 ms | other answers |"]
    lines.append("|---|---:|---:|---:|---:|---:|---|")
    for title, kinds in [*GROUPS, ("all requests", None)]:
        chosen = [s for s in samples if kinds is None or s.kind in kinds]
        if not chosen:
            continue
        ms = sorted(s.ms for s in chosen if isinstance(s.status, int))
        other = Counter(
            str(s.status) for s in chosen if not (isinstance(s.status, int) and s.status < 400)
        )
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(other.items())) or "none"
        lines.append(
            f"| {title} | {len(chosen)} | {len(chosen) / load_seconds:.1f} | "
            f"{percentile(ms, 50):.0f} | {percentile(ms, 95):.0f} | {percentile(ms, 99):.0f} | "
            f"{shown} |"
        )
    traffic = "\n".join(lines)

    figures = checks.invariants(engine, since)
    by_key = checks.visits_by_key(engine, since)
    records = shared.checkins
    done = [r for r in records if r.done]
    not_one = sum(1 for r in done if by_key.get((r.store_id, r.key), 0) != 1)
    known_keys = {(r.store_id, r.key) for r in records}
    unexplained = sum(n for k, n in by_key.items() if k not in known_keys)
    cut = [r for r in records if r.cut]
    outage = [r for r in records if r.outage]
    server_500 = sum(
        1 for s in samples if isinstance(s.status, int) and s.status >= 500 and s.status != 503
    )
    stray_503 = sum(1 for s in samples if s.status == 503 and not in_outage(s.at))
    timeouts = sum(1 for s in samples if s.status == "timeout")
    log_errors = server_log_errors(dep)
    above = run.above_cap_after_night

    # (a) the kills, seen from the tablets whose check-in was cut
    half_done = sum(
        1
        for r in cut
        if r.saved_before_resubmit == 0 and r.new and not r.twin and r.customer_before_resubmit
    )
    saved = sum(1 for r in cut if r.saved_before_resubmit)
    cut_one = sum(1 for r in cut if by_key.get((r.store_id, r.key), 0) == 1)
    kills_ok = bool(cut) and cut_one == len(cut) and half_done == 0 and all(r.done for r in cut)
    run.faults.insert(
        0,
        Fault(
            "kill -9 of a gunicorn worker mid-check-in",
            f"{run.kills} kills; check-ins cut: {len(cut)}, of which saved "
            f"before the cut {saved}, nothing saved {len(cut) - saved} (customer rows left "
            f"without their visit: {half_done}); sent again: one visit each for "
            f"{cut_one}/{len(cut)}",
            kills_ok,
        ),
    )
    # (c) the outage, seen from the kiosk
    kiosk_kinds = {"kiosk page", "kiosk step", "kiosk check-in"}
    down = run.postgres_down
    during = Counter(
        str(s.status)
        for s in samples
        if s.kind in kiosk_kinds and down is not None and down[0] <= s.at <= down[1]
    )
    outage_one = sum(1 for r in outage if by_key.get((r.store_id, r.key), 0) == 1)
    outage_ok = (
        down is not None
        and during.get("503", 0) > 0
        and set(during) == {"503"}
        and len(outage) > 0
        and outage_one == len(outage)
        and all(r.done for r in outage)
    )
    run.faults.insert(
        2,
        Fault(
            "PostgreSQL stopped",
            (
                f"down {down[1] - down[0]:.0f} s; kiosk answers meanwhile: "
                + ", ".join(f"{v} × {k}" for k, v in sorted(during.items()))
                + f"; consents that met the outage and were sent again: {len(outage)}, "
                f"one visit each: {outage_one}/{len(outage)}"
            )
            if down
            else "not run",
            outage_ok,
        ),
    )

    inv = [
        ("duplicate visits per (store, idempotency key)", figures["duplicate_visits"]),
        ("check-ins shown as done without exactly one visit", not_one),
        ("kiosk visits no tablet accounts for", unexplained),
        ("duplicate customers per (store, mobile)", figures["duplicate_customers"]),
        ("customers with two open opportunities", figures["open_opportunities_twice"]),
        ("consultants given a customer past their cap (not their own)", figures["past_cap"]),
        ("active consultants above their cap after the nightly run", above),
        ("responses 500 (any 5xx but the outage's 503)", server_500),
        ("503 outside the database outage", stray_503),
        ("requests without an answer in 35 s", timeouts),
        ("unhandled errors in the server's log", log_errors),
        ("tablet or consultant flows given up", len(shared.failures)),
    ]
    inv_lines = ["| invariant | figure |", "|---|---:|"]
    inv_lines += [f"| {name} | {value} |" for name, value in inv]
    fault_lines = ["| fault | what happened | holds |", "|---|---|---|"]
    fault_lines += [
        f"| {f.name} | {f.detail} | {'yes' if f.ok else '**no**'} |" for f in run.faults
    ]

    wall = time.monotonic() - run.started
    mode = run.mode
    visits_line = (
        f"{figures['visits']} kiosk visits ("
        + ", ".join(
            f"{figures[k]} {k.removeprefix('visits_')}"
            for k in sorted(figures)
            if k.startswith("visits_")
        )
        + f"); {figures['walk_in_assignments']} given to a consultant at check-in or from the "
        f"queue, {figures['own_past_cap']} of them to their own consultant at or past the cap "
        "(the rule allows it)"
    )
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    run_lines = [
        "| run | |",
        "|---|---|",
        f"| load | {mode.tablets} tablets in {mode.stores} stores, {n_consultants} consultants, "
        f"{load_seconds:.0f} s; think time {mode.think[0]:g}-{mode.think[1]:g} s a step |",
        f"| check-ins | {len(done)} done of {len(records)} begun at the consent step; "
        f"{visits_line} |",
        f"| wall time | {wall // 60:.0f} min {wall % 60:.0f} s (mode {mode.name}; set-up "
        f"{run.setup_seconds:.0f} s); the load generator itself used "
        f"{cpu.ru_utime + cpu.ru_stime:.0f} s of CPU |",
        f"| machine | {os.cpu_count()} cores (load average {run.load_average:.1f} before the "
        f"run), Python {platform.python_version()}, {versions()}, commit {commit()} |",
        *(f"| note | {note} |" for note in run.notes),
    ]
    if shared.failures:
        log("flows given up (first 10):")
        for text in shared.failures[:10]:
            log(f"  {text}")
    table = "\n\n".join(
        [traffic, "\n".join(inv_lines), "\n".join(fault_lines), "\n".join(run_lines)]
    )
    ok = all(value == 0 for _, value in inv) and all(f.ok for f in run.faults)
    return table, ok


def dump_samples(path: Path, samples: list[Any], run: Run) -> None:
    """Every request, for a look after a failed run (kept with the logs)."""
    with path.open("w") as fh:
        if run.postgres_window and run.postgres_down:
            stop, ready = (t - run.started for t in run.postgres_window)
            down, start = (t - run.started for t in run.postgres_down)
            fh.write(f"# PostgreSQL: stop {stop:.3f}, down {down:.3f}, start {start:.3f}, ")
            fh.write(f"ready {ready:.3f}\n")
        for s in samples:
            fh.write(f"{s.at - run.started:.3f}\t{s.kind}\t{s.status}\t{s.ms:.1f}\n")


def server_log_errors(dep: Deployment) -> int:
    path = dep.logs / "gunicorn.log"
    if not path.exists():
        return -1
    text = path.read_text(errors="replace")
    return len(re.findall(r"unhandled error|Traceback \(most recent call last\)", text))


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> str:
    found = []
    for args, pattern, name in (
        (["postgres", "--version"], r"(\d+\.\d+)", "PostgreSQL"),
        (["redis-server", "--version"], r"v=(\S+)", "Redis"),
    ):
        try:
            out = subprocess.run(args, capture_output=True, text=True, check=False).stdout
        except OSError:
            out = ""
        match = re.search(pattern, out)
        found.append(f"{name} {match.group(1) if match else '?'}")
    return ", ".join(found)


def write_readme(table: str) -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    day = time.strftime("%Y-%m-%d")
    block = f"{BEGIN}\nLast run ({day}):\n\n{table}\n{END}"
    path.write_text(head + block + tail)


if __name__ == "__main__":
    sys.exit(main())
