"""RQ's cron configuration: ``rq cron jobs/schedule.py`` (``make cron``).

The scheduler only enqueues; a worker (``make worker``) runs the jobs. Every 15 minutes it
checks which stores have passed 01:00 local time without a nightly run for their date, so stores
in any time zone (including half-hour offsets) run shortly after their own 01:00.
"""

from rq import cron

from jobs import QUEUE_NAME
from jobs.nightly import enqueue_due

cron.register(enqueue_due, QUEUE_NAME, cron="*/15 * * * *", job_timeout=300, name="nightly-due")
