"""Benchmark: a synthetic ecosystem in PostgreSQL, one real distribution run end to end.

Builds a separate database (``<name>_bench``), seeds projects, share tables, people and inflows
by COPY, runs a distribution through the same code as production (snapshot, compute, post),
verifies exactness and prints one final line:
``projects=N entries=M inflows=K seconds=S peak_mb=R exact=yes``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from payouts.distribution import runs
from payouts.distribution.bench_graph import (
    add_size_arguments,
    build_synthetic_graph,
    build_synthetic_inflows,
    inflow_totals,
    peak_mb,
)

CHUNK = 500_000
SEEDED_TABLES = (
    "projects_project",
    "projects_sharetable",
    "projects_tableversion",
    "projects_recipientkey",
    "companies_company",
)
# Table names come from the constants above, never from input.
SETVAL = "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"


class Command(BaseCommand):
    help = "Seed a synthetic graph in PostgreSQL and time one real distribution run."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        add_size_arguments(parser)
        parser.add_argument(
            "--keep", action="store_true", help="keep the bench database afterwards"
        )

    def handle(self, *args: object, **options) -> None:  # type: ignore[no-untyped-def]
        if connection.vendor != "postgresql":
            raise CommandError("bench_distribution needs PostgreSQL (set DATABASE_URL).")
        projects, entries = options["projects"], options["entries"]
        people, inflows_n = options["people"], options["inflows"]
        companies = min(options["companies"], max(1, projects // 10))
        bench_db = f"{settings.DATABASES['default']['NAME']}_bench"
        self._recreate(bench_db)
        try:
            t0 = time.perf_counter()
            call_command("migrate", verbosity=0)
            graph = build_synthetic_graph(
                projects=projects,
                entries=entries,
                people=people,
                companies=companies,
                seed=options["seed"],
            )
            inflows = build_synthetic_inflows(
                companies=companies, inflows=inflows_n, seed=options["seed"] + 1
            )
            self._seed(graph, inflows, companies, people)
            seeded = time.perf_counter()
            self.stdout.write(f"seeded in {seeded - t0:.1f} s (peak {peak_mb():.0f} MB)")
            timings = self._run()
            n_entries = int(graph.node_targets.size + graph.terminal_targets.size)
            finished = time.perf_counter()
            exact = self._verify(inflows)
            self.stdout.write(" ".join(f"{k}_s={v:.2f}" for k, v in timings.items()))
            self.stdout.write(
                f"projects={projects} entries={n_entries} "
                f"inflows={len(inflows)} seconds={finished - seeded:.1f} peak_mb={peak_mb():.0f} "
                f"exact={'yes' if exact else 'NO'}"
            )
            if not exact:
                raise CommandError("the run is not exact")
        finally:
            if not options["keep"]:
                self._drop(bench_db)

    # --- database -----------------------------------------------------------------------

    def _admin_cursor(self):  # type: ignore[no-untyped-def]
        import psycopg

        params = connection.get_connection_params()
        params["dbname"] = "postgres"
        return psycopg.connect(**params, autocommit=True)

    def _recreate(self, name: str) -> None:
        connections.close_all()
        with self._admin_cursor() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        self._original = settings.DATABASES["default"]["NAME"]
        for alias in ("default",):
            connections.databases[alias]["NAME"] = name
            settings.DATABASES[alias]["NAME"] = name

    def _drop(self, name: str) -> None:
        connections.close_all()
        with self._admin_cursor() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # --- seeding --------------------------------------------------------------------------

    def _copy(self, table: str, columns: str, lines: Iterator[str]) -> None:
        with (
            connection.cursor() as c,
            c.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            buffer = io.StringIO()
            for n, line in enumerate(lines, start=1):
                buffer.write(line)
                if n % CHUNK == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())

    def _seed(self, graph, inflows, companies: int, people: int) -> None:  # type: ignore[no-untyped-def]
        now = timezone.now().isoformat()
        n_nodes = graph.n_nodes
        owner_keys = [
            f"company:c{i}" if i < companies else f"project:p{i - companies}"
            for i in range(n_nodes)
        ]
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET LOCAL session_replication_role = replica"
                )  # bulk load: no FK triggers
            self._copy(
                "companies_company",
                "id, slug, name, country, website, kind, require_mfa, created_at",
                (f"{i + 1}\tc{i}\tCompany {i}\tUS\t\tmature\tf\t{now}\n" for i in range(companies)),
            )
            projects = n_nodes - companies
            self._copy(
                "projects_project",
                "id, slug, name, repo_url, homepage, description, status, created_at, verified_at",
                (
                    f"{i + 1}\tp{i}\tProject {i}\t\t\t\tclaimed\t{now}\t{now}\n"
                    for i in range(projects)
                ),
            )
            self._copy(
                "projects_sharetable",
                "id, owner_key, created_at",
                (f"{i + 1}\t{owner_keys[i]}\t{now}\n" for i in range(n_nodes)),
            )
            reserve = graph.reserve_millibips
            self._copy(
                "projects_tableversion",
                "id, table_id, number, status, reserve_millibips, source, note, created_at, "
                "activated_at",
                (
                    f"{i + 1}\t{i + 1}\t1\tactive\t{int(reserve[i])}\tbench\t\t{now}\t{now}\n"
                    for i in range(n_nodes)
                ),
            )
            with connection.cursor() as cursor:
                cursor.execute("UPDATE projects_sharetable SET active_version_id = id")
            # Recipient keys: node i is key i + 1, person t is key n_nodes + 1 + t.
            self._copy(
                "projects_recipientkey",
                "id, key",
                (
                    f"{i + 1}\t{owner_keys[i]}\n"
                    if i < n_nodes
                    else f"{i + 1}\tgithub:dev{i - n_nodes}\n"
                    for i in range(n_nodes + people)
                ),
            )
            self._copy(
                "projects_tableentry",
                "version_id, position, recipient, recipient_key_id, millibips, project_id, note",
                self._entry_lines(graph, owner_keys, companies),
            )
            with connection.cursor() as cursor:
                for table in SEEDED_TABLES:
                    cursor.execute(SETVAL.format(table=table))
        self._seed_inflows(inflows, now)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def _entry_lines(self, graph, owner_keys, companies: int) -> Iterator[str]:  # type: ignore[no-untyped-def]
        n_nodes = graph.n_nodes
        for i in range(n_nodes):
            position = 0
            version = i + 1
            start, end = graph.node_indptr[i], graph.node_indptr[i + 1]
            targets = graph.node_targets[start:end].tolist()
            for t, m in zip(targets, graph.node_millibips[start:end].tolist(), strict=True):
                key = owner_keys[t]
                yield f"{version}\t{position}\t{key}\t{t + 1}\t{m}\t{t - companies + 1}\t\n"
                position += 1
            start, end = graph.terminal_indptr[i], graph.terminal_indptr[i + 1]
            targets = graph.terminal_targets[start:end].tolist()
            for t, m in zip(targets, graph.terminal_millibips[start:end].tolist(), strict=True):
                # Terminals 0..people-1 are people (GitHub identities, kept in escrow).
                yield f"{version}\t{position}\tgithub:dev{t}\t{n_nodes + 1 + t}\t{m}\t\\N\t\n"
                position += 1

    def _seed_inflows(self, inflows, now: str) -> None:  # type: ignore[no-untyped-def]
        """Inflows with their ledger transactions, the way inflow_record writes them."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM payouts_account")
            accounts: dict[tuple[str, str, str], int] = {}
            next_id = [1]

            def account(owner: str, purpose: str, currency: str) -> int:
                key = (owner, purpose, currency)
                if key not in accounts:
                    accounts[key] = next_id[0]
                    next_id[0] += 1
                return accounts[key]

            txn_lines, posting_lines, inflow_lines = [], [], []
            for n, inflow in enumerate(inflows, start=1):
                company = f"company:c{inflow.node}"
                txn_lines.append(f"{n}\tinflow:BENCH-{n}\tinflow\tinflow:BENCH-{n}\tbench\t{now}\n")
                posting_lines.append(
                    f"{n}\t{account(company, 'contributed', inflow.currency)}\t"
                    f"{-inflow.cents}\t{inflow.currency}\n"
                )
                posting_lines.append(
                    f"{n}\t{account('platform', 'pool', inflow.currency)}\t"
                    f"{inflow.cents}\t{inflow.currency}\n"
                )
                inflow_lines.append(
                    f"{inflow.node + 1}\t{inflow.cents}\t{inflow.currency}\t"
                    f"BENCH-{n}\twire\t{now}\t{n}\n"
                )
            self._copy(
                "payouts_account",
                "id, owner, purpose, currency, created_at",
                (f"{i}\t{o}\t{p}\t{c}\t{now}\n" for (o, p, c), i in accounts.items()),
            )
            self._copy(
                "payouts_ledgertransaction",
                "id, idempotency_key, kind, reference, memo, created_at",
                iter(txn_lines),
            )
            # One statement for all postings: the balance trigger checks every transaction.
            self._copy(
                "payouts_posting",
                "transaction_id, account_id, amount, currency",
                iter(posting_lines),
            )
            self._copy(
                "payouts_inflow",
                "company_id, amount, currency, reference, source, received_at, "
                "ledger_transaction_id",
                iter(inflow_lines),
            )
            for table in ("payouts_account", "payouts_ledgertransaction"):
                cursor.execute(SETVAL.format(table=table))

    # --- the run ------------------------------------------------------------------------------

    def _run(self) -> dict[str, float]:
        timings: dict[str, float] = {}
        real_compute = runs.compute_distribution

        def timed_compute(**kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return real_compute(**kwargs)
            finally:
                timings["engine"] = time.perf_counter() - start

        runs.compute_distribution = timed_compute  # type: ignore[assignment]
        try:
            run = runs.distribution_run_create()
            for name, stage in (
                ("snapshot", runs._stage_snapshot),
                ("compute", runs._stage_compute),
                ("post", runs._stage_post),
            ):
                start = time.perf_counter()
                stage(run.pk)
                timings[name] = time.perf_counter() - start
        finally:
            runs.compute_distribution = real_compute  # type: ignore[assignment]
        self.run_id = run.pk
        return timings

    def _verify(self, inflows) -> bool:  # type: ignore[no-untyped-def]
        from payouts.models import DistributionRun, Posting, RunAllocation

        run = DistributionRun.objects.get(pk=self.run_id)
        expected = inflow_totals(inflows)
        if run.status != "done" or run.totals != expected:
            return False
        for currency, total in expected.items():
            allocated = RunAllocation.objects.filter(run=run, currency=currency).aggregate(
                t=Sum("amount")
            )["t"]
            posted = Posting.objects.filter(
                transaction__idempotency_key=f"run:{run.pk}:{currency}", amount__gt=0
            ).aggregate(t=Sum("amount"))["t"]
            balance = Posting.objects.filter(
                transaction__idempotency_key=f"run:{run.pk}:{currency}"
            ).aggregate(t=Sum("amount"))["t"]
            if not (allocated == posted == total and balance == 0):
                return False
        return True
