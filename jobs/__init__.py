"""RQ jobs: thin wrappers that open their own database session and call core/.

With ``REDIS_URL`` set, jobs go to Redis and an ``rq worker`` runs them. Without it, the same
queue runs them inline (RQ's synchronous mode on fakeredis), so the embedded default needs no
Redis. Requests enqueue only after their commit (:func:`enqueue_after_commit`), passing ids and
dates, never objects or personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

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


def enqueue(func: Callable[..., Any], *args: int | str, timeout: int = DEFAULT_TIMEOUT) -> Any:
    """Enqueue now. Only ids and ISO dates are accepted as arguments."""
    for arg in args:
        if not isinstance(arg, int | str):
            raise TypeError("jobs take ids and dates only")
    return get_queue().enqueue(func, *args, job_timeout=timeout)


def enqueue_after_commit(func: Callable[..., Any], *args: int | str) -> None:
    """Enqueue once the request's transaction has committed (see wsgi's commit point)."""
    if not has_app_context():
        raise RuntimeError("enqueue_after_commit needs a request")
    g.setdefault("pending_jobs", []).append((func, args))


def flush_pending() -> None:
    """Enqueue what the committed request asked for. Redis away is no error for the request
    (what it asked for is committed, as a queued job run): the job is logged as not queued, and
    the cron hands it again once its run is overdue (jobs.nightly.due_stores)."""
    for func, args in g.pop("pending_jobs", []):
        try:
            enqueue(func, *args)
        except RedisError as exc:
            current_app.logger.error(
                "job %s%r not queued (Redis unreachable: %s); the cron will hand it again",
                func.__name__,
                args,
                type(exc).__name__,
            )


def drop_pending() -> None:
    """The request did not commit: the jobs it asked for are not enqueued."""
    g.pop("pending_jobs", None)
