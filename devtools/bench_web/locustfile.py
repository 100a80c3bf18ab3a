"""Locust user for ``manage.py bench_web``: every user asks, back to back with no think time,
for a random path of one page (the paths are in the JSON file named by ``BENCH_WEB_PATHS``),
so N users keep N requests in flight."""

from __future__ import annotations

import json
import os
import random

from locust import FastHttpUser, constant, task

with open(os.environ["BENCH_WEB_PATHS"]) as _f:
    _SPEC = json.load(_f)
PAGE: str = _SPEC["page"]
PATHS: list[str] = _SPEC["paths"]


class PageUser(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 30.0

    @task
    def get(self) -> None:
        self.client.get(random.choice(PATHS), name=PAGE)
