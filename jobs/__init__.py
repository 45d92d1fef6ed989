"""RQ jobs: thin wrappers that open their own database session and call core/.

With ``REDIS_URL`` set, jobs go to Redis and an ``rq worker`` runs them. Without it, the same
queue runs them inline (RQ's synchronous mode on fakeredis), so the embedded default needs no
Redis. Every job is a job run, its own outbox row (jobs/outbox.py): a request writes the run in
its transaction and hands it to the queue after the commit (:func:`send_after_commit`); the
dispatcher hands again whatever a fault lost. Jobs get ids and dates, never objects or personal
data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Session

from core.db import utcnow

QUEUE_NAME = "showroom"
DEFAULT_TIMEOUT = 600  # seconds; every job has a timeout


def init_app(app: Flask) -> None:
    app.extensions["showroom.queue"] = None


def redis_connection(url: str | None) -> Redis:
    if url:
        return Redis.from_url(url, socket_connect_timeout=2)  # a dead Redis answers in 2 s
    import fakeredis

    return fakeredis.FakeStrictRedis()


def get_queue() -> Queue:
    """The app's queue: real Redis when configured, else inline."""
    queue = current_app.extensions.get("showroom.queue")
    if queue is None:
        url = current_app.config.get("REDIS_URL")
        queue = Queue(QUEUE_NAME, connection=redis_connection(url), is_async=bool(url))
        current_app.extensions["showroom.queue"] = queue
    return queue


def get_queue_for_worker() -> Queue:
    """The queue seen from a job: the app's inside the app, else REDIS_URL's (a bare worker)."""
    if has_app_context():
        return get_queue()
    from settings import redis_url

    url = redis_url()
    return Queue(QUEUE_NAME, connection=redis_connection(url), is_async=bool(url))


def enqueue_on(
    queue: Queue,
    func: Callable[..., Any],
    *args: int | str,
    timeout: int = DEFAULT_TIMEOUT,
    job_id: str | None = None,
) -> Any:
    """Enqueue now. Only ids and ISO dates are accepted as arguments."""
    for arg in args:
        if not isinstance(arg, int | str):
            raise TypeError("jobs take ids and dates only")
    return queue.enqueue(func, *args, job_timeout=timeout, job_id=job_id)


def enqueue(func: Callable[..., Any], *args: int | str, timeout: int = DEFAULT_TIMEOUT) -> Any:
    """Enqueue now on the app's queue."""
    return enqueue_on(get_queue(), func, *args, timeout=timeout)


def send_after_commit(session: Session, run_id: int) -> None:
    """Hand a run this request made to the queue once the request has committed (see wsgi's
    commit point). It is marked as sent in the request's own transaction: if the enqueue never
    happens (Redis away, the process killed), the dispatcher finds its delivery missing and
    hands it again."""
    from jobs.outbox import mark_new

    if not has_app_context():
        raise RuntimeError("send_after_commit needs a request")
    g.setdefault("pending_jobs", []).append(mark_new(session, run_id, utcnow()))


def flush_pending() -> None:
    """Hand to the queue what the committed request asked for. Redis away is no error for the
    request (the run is committed, marked as sent): it is logged as not queued, and the
    outbox's dispatcher hands it again once Redis is back."""
    from jobs.outbox import enqueue_run

    for run, queue_job in g.pop("pending_jobs", []):
        try:
            enqueue_run(get_queue(), run, queue_job)
        except RedisError as exc:
            current_app.logger.error(
                "run %s (%s) not queued (Redis unreachable: %s); the dispatcher will hand it again",
                run.id,
                run.kind,
                type(exc).__name__,
            )


def drop_pending() -> None:
    """The request did not commit: the jobs it asked for are not enqueued."""
    g.pop("pending_jobs", None)
