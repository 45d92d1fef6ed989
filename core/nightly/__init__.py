"""The nightly run: callback list, releases, refill, retention, job runs, what-if."""
