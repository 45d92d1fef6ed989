"""RQ's cron configuration: ``rq cron jobs/schedule.py`` (``make cron``).

The scheduler only enqueues; a worker (``make worker``) runs the jobs. Every 15 minutes it
checks which stores have passed 01:00 local time without a nightly run for their date, so stores
in any time zone (including half-hour offsets) run shortly after their own 01:00. Every minute
the outbox's dispatcher hands again any run a fault lost (the worker does too, between jobs).
"""

from rq import cron

from jobs import QUEUE_NAME
from jobs.nightly import enqueue_due
from jobs.outbox import DISPATCH_EVERY, dispatch_job

cron.register(enqueue_due, QUEUE_NAME, cron="*/15 * * * *", job_timeout=300, name="nightly-due")
cron.register(dispatch_job, QUEUE_NAME, interval=DISPATCH_EVERY, job_timeout=120, name="outbox")
