"""``simulate --jobs N``: seeds in N worker processes, each on its own copy of the database.

The copies are made with PostgreSQL's ``CREATE DATABASE … TEMPLATE`` from the database the
command was given (which must then have no other sessions: a template cannot be copied while
someone is connected to it) and dropped at the end. Each worker is ``manage.py simulate
--seed-list …`` with ``DATABASE_URL`` pointing at its copy and its own local Stripe server;
seeds are dealt round-robin, and the results are put back in seed order, so the summary and
the combined ledger hash are the same as with one process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from django.conf import settings
from django.db import connections

SEED_LINE = re.compile(r"^seed=(\d+) steps=(\d+) .*ledger_hash=([0-9a-f]*)$")
VIOLATION_LINE = re.compile(r"^VIOLATION seed=(\d+) step=(\d+): (.*)$")


@dataclass
class WorkerSeed:
    seed: int
    steps: int = 0
    ledger_hash: str = ""
    line: str = ""
    violation: list[str] = field(default_factory=list)


def _admin_connection() -> Any:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        autocommit=True,
    )


def _url_with_db(name: str) -> str:
    """A ``DATABASE_URL`` for database ``name`` on the current server, built from the
    settings (the environment may not name the database: the test settings have a default)."""
    db = settings.DATABASES["default"]
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = str(db.get("HOST") or "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"


def clone_databases(jobs: int) -> list[str]:
    """``jobs`` fresh copies of the current database; returns their names."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("--jobs needs PostgreSQL (it copies the database per worker)")
    source = str(db["NAME"])
    connections.close_all()  # a template must have no sessions, ours included
    names = [f"{source}_job{i}" for i in range(1, jobs + 1)]
    with _admin_connection() as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return names


def drop_databases(names: list[str]) -> None:
    with _admin_connection() as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def run_parallel(
    *, seeds: list[int], jobs: int, args: list[str], echo: Callable[[str], None]
) -> list[WorkerSeed]:
    """Run ``seeds`` in ``jobs`` processes (``args``: the other simulate options); each
    worker's per-seed lines are echoed as they come. Results in seed order."""
    jobs = max(1, min(jobs, len(seeds)))
    names = clone_databases(jobs)
    results: dict[int, WorkerSeed] = {s: WorkerSeed(seed=s) for s in seeds}
    lock = threading.Lock()
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    try:
        procs = []
        for i, name in enumerate(names):
            mine = seeds[i::jobs]
            env = {**os.environ, "DATABASE_URL": _url_with_db(name)}
            cmd = [sys.executable, manage, "simulate", "--seed-list", ",".join(map(str, mine))]
            procs.append(
                subprocess.Popen(
                    cmd + args,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )

        def read(proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            last: WorkerSeed | None = None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                found = SEED_LINE.match(line)
                violation = VIOLATION_LINE.match(line)
                with lock:
                    if found and int(found.group(1)) in results:
                        last = results[int(found.group(1))]
                        last.steps, last.ledger_hash = int(found.group(2)), found.group(3)
                        last.line = line
                        echo(line)
                    elif last is not None and (violation or line.startswith("reproduce:")):
                        last.violation.append(line)
                        echo(line)

        threads = [threading.Thread(target=read, args=(p,)) for p in procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in procs:
            p.wait()
    finally:
        drop_databases(names)
    missing = [s for s, r in results.items() if not r.line]
    if missing:
        raise RuntimeError(f"workers ended without a result for seeds {missing}")
    return [results[s] for s in seeds]
