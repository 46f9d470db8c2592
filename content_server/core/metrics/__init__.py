"""Counters every server process keeps in memory and adds to the database's totals every few seconds.

Prometheus scrapes one process (behind a load balancer, any of them), so what it reads must be
the district's numbers, not that process's: request counters (polls, downloads) are counted in
memory on the hot path and added to ``metric_totals`` by a job; per-process gauges (long-polls
waiting now) are written to ``metric_gauges`` with a time, and a scrape sums the fresh ones.
Everything else /metrics shows is counted from the database at scrape time (the fleet feature).
"""
