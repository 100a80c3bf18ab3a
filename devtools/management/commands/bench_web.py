"""Benchmark of the public pages: seeded data, gunicorn with production settings, 50 clients.

Seeds (or with ``--reuse`` keeps) a separate database ``<name>_bench`` holding a synthetic
ecosystem (default 100,000 projects, 1,000,000 table entries) and a year of monthly runs made
by the real run code, starts gunicorn (3 workers) on it with ``faiross.settings.production``
(throwaway secrets in the subprocess's environment only; the cache and the Celery broker on
``REDIS_URL``), and drives ``--users`` concurrent clients (locust, headless, no think time)
at each page in turn. Prints one line per page::

    page=<name> p50_ms=… p95_ms=… p99_ms=… rps=… queries=…

``queries`` is the number of SQL queries one request of the page makes with an empty cache,
counted in this process through Django's test client (``page=static`` is a file served by
whitenoise through the same stack: the floor). Figures from a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from devtools.bench_web import pages, seed

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Seed (or reuse) a benchmark database, serve it with gunicorn, load the public pages."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--projects", type=int, default=100_000)
        parser.add_argument("--entries", type=int, default=1_000_000)
        parser.add_argument("--people", type=int, default=200_000)
        parser.add_argument("--companies", type=int, default=2_000)
        parser.add_argument("--runs", type=int, default=12, help="monthly runs (a year: 12)")
        parser.add_argument("--inflows", type=int, default=300, help="inflows per run")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--database", default="", help="bench database name (default: <name>_bench)"
        )
        parser.add_argument("--reuse", action="store_true", help="keep a seeded bench database")
        parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
        parser.add_argument("--users", type=int, default=50, help="concurrent clients")
        parser.add_argument("--seconds", type=int, default=20, help="load time per page")
        parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
        parser.add_argument("--pages", default="", help="comma-separated subset of pages")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_web needs PostgreSQL (set DATABASE_URL).")
        bench_db = options["database"] or f"{settings.DATABASES['default']['NAME']}_bench"
        self._use_database(bench_db, options)
        if options["seed_only"]:
            return
        chosen = [p for p in options["pages"].split(",") if p]
        plan = pages.page_plan(say=self._say)
        if chosen:
            plan = [p for p in plan if p.name in chosen]
        env = self._server_env(bench_db)
        self._collectstatic(env)
        counts = {p.name: pages.query_count(p) for p in plan if p.paths}
        port = _free_port()
        server = self._gunicorn(env, port, options["workers"])
        try:
            lines = []
            for page in plan:
                if not page.paths:
                    line = f"page={page.name} skipped={page.skipped}"
                else:
                    stats = self._load(page, port, options["users"], options["seconds"])
                    line = (
                        f"page={page.name} p50_ms={stats['p50']:.0f} p95_ms={stats['p95']:.0f} "
                        f"p99_ms={stats['p99']:.0f} rps={stats['rps']:.1f} "
                        f"queries={counts[page.name]}"
                    )
                    if stats["failures"]:
                        line += f" failures={stats['failures']}/{stats['requests']}"
                self.stdout.write(line)
                self.stdout.flush()
                lines.append(line)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def _say(self, text: str) -> None:
        self.stderr.write(f"# {text}")
        self.stderr.flush()

    # --- database -----------------------------------------------------------------------

    def _admin(self):  # type: ignore[no-untyped-def]
        import psycopg

        params = connection.get_connection_params()
        params["dbname"] = "postgres"
        return psycopg.connect(**params, autocommit=True)

    def _use_database(self, name: str, options: dict[str, Any]) -> None:
        connections.close_all()
        with self._admin() as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
        settings.DATABASES["default"]["NAME"] = name
        connections.databases["default"]["NAME"] = name
        if exists and options["reuse"]:
            call_command("migrate", verbosity=0)
            projects, done = seed.seeded_state()
            if projects and done:
                self._say(f"reusing {name}: {projects} projects, {done} finished runs")
                return
        connections.close_all()
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        call_command("migrate", verbosity=0)
        seed.bench_seed(
            projects=options["projects"],
            entries=options["entries"],
            people=options["people"],
            companies=min(options["companies"], max(1, options["projects"] // 10)),
            runs_n=options["runs"],
            inflows_per_run=options["inflows"],
            seed=options["seed"],
            say=self._say,
        )

    # --- the server ---------------------------------------------------------------------

    def _server_env(self, bench_db: str) -> dict[str, str]:
        db = settings.DATABASES["default"]
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
        # Throwaway secrets, only in the subprocess's environment.
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "faiross.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{bench_db}",
            "REDIS_URL": redis_url,
            "FAIROSS_CACHE_URL": redis_url,
            "STRIPE_SECRET_KEY": "sk_test_bench_web",
            "STRIPE_WEBHOOK_SECRET": "whsec_bench_web",
            "FAIROSS_RUN_SALT_SECRET": secrets.token_hex(32),
            "EMAIL_HOST": "127.0.0.1",
        }

    def _collectstatic(self, env: dict[str, str]) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )

    def _gunicorn(self, env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
        # Every page starts from an empty cache (the bench's Redis db is its own).
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import redis,sys; redis.Redis.from_url(sys.argv[1]).flushdb()",
                env["REDIS_URL"],
            ],
            check=True,
        )
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "faiross.wsgi:application",
                f"--workers={workers}",
                f"--bind=127.0.0.1:{port}",
                "--timeout=60",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30):
                    return server
            except OSError:
                if server.poll() is not None:
                    raise CommandError("gunicorn did not start") from None
                time.sleep(0.5)
        server.terminate()
        raise CommandError("gunicorn did not answer within 60 s")

    # --- the load -------------------------------------------------------------------------

    def _load(self, page: pages.Page, port: int, users: int, seconds: int) -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "paths.json"
            spec.write_text(json.dumps({"page": page.name, "paths": page.paths}))
            prefix = Path(tmp) / "stats"
            subprocess.run(
                [
                    str(Path(sys.executable).with_name("locust")),
                    "-f",
                    str(Path(__file__).resolve().parents[2] / "bench_web" / "locustfile.py"),
                    "--headless",
                    "--only-summary",
                    "--skip-log-setup",
                    f"--users={users}",
                    f"--spawn-rate={users}",
                    f"--run-time={seconds}s",
                    f"--host=http://127.0.0.1:{port}",
                    f"--csv={prefix}",
                    "--loglevel=ERROR",
                ],
                env={**os.environ, "BENCH_WEB_PATHS": str(spec)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            return pages.locust_summary(Path(f"{prefix}_stats.csv"), page.name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
