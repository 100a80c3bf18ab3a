"""Benchmark: a synthetic ecosystem in PostgreSQL, one real distribution run end to end.

Builds a separate database (``<name>_bench``), seeds projects, share tables, people and inflows
by COPY, runs a distribution through the same code as production (snapshot, compute, post),
verifies exactness and prints one final line:
``projects=N entries=M inflows=K seconds=S peak_mb=R exact=yes``.

``--rerun-changed F`` then gives a share F of the tables a new version (shares moved, one new
person each), records new inflows (F times as many), times a second run, checks that its
allocations equal a run computed from scratch, and adds ``rerun_seconds=S`` to that line.
``--scale-series`` runs 100k, 300k and 1M projects (entries 10x, people 1x, inflows 0.1x)
and prints seconds and seconds per million entries for each. Every stage prints its time
and rows per second, and the PostgreSQL settings the run had are printed first.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import numpy as np
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
SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "max_wal_size",
    "checkpoint_timeout",
    "synchronous_commit",
    "fsync",
)
SERIES = (100_000, 300_000, 1_000_000)


class Command(BaseCommand):
    help = "Seed a synthetic graph in PostgreSQL and time one real distribution run."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        add_size_arguments(parser)
        parser.add_argument(
            "--keep", action="store_true", help="keep the bench database afterwards"
        )
        parser.add_argument(
            "--rerun-changed",
            type=float,
            default=0.0,
            metavar="F",
            help="after the run, change a share F of the tables, add new inflows, time a rerun",
        )
        parser.add_argument(
            "--scale-series",
            action="store_true",
            help="run 100k, 300k and 1M projects (entries 10x) and compare their costs",
        )
        parser.add_argument(
            "--template",
            default="",
            help="clone the bench database from this one (a --save-seed of the same size and "
            "seed) instead of seeding",
        )
        parser.add_argument(
            "--bench-db",
            default="",
            help="name of the bench database (default: <database name>_bench)",
        )
        parser.add_argument(
            "--save-seed",
            default="",
            help="after seeding, keep a copy of the seeded database under this name",
        )

    def handle(self, *args: object, **options) -> None:  # type: ignore[no-untyped-def]
        if connection.vendor != "postgresql":
            raise CommandError("bench_distribution needs PostgreSQL (set DATABASE_URL).")
        self._original = settings.DATABASES["default"]["NAME"]
        self._settings_printed = False
        if not options["scale_series"]:
            self._bench(options, options["projects"], options["entries"])
            return
        seconds: dict[int, float] = {}
        for projects in SERIES:
            result = self._bench(
                {**options, "rerun_changed": 0.0, "template": ""}, projects, 10 * projects
            )
            seconds[projects] = result["seconds"]
            self.stdout.write(
                f"series projects={projects} entries={int(result['entries'])} "
                f"seconds={result['seconds']:.1f} "
                f"s_per_m_entries={result['seconds'] / result['entries'] * 1e6:.2f}"
            )
        ratio = seconds[SERIES[-1]] / seconds[SERIES[0]]
        self.stdout.write(
            f"series ratio_1m_to_100k={ratio:.1f} (target <= 12) "
            f"{'linear=yes' if ratio <= 12 else 'linear=NO'}"
        )

    def _bench(self, options, projects: int, entries: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
        scale = projects / options["projects"] if options["scale_series"] else 1.0
        people = int(options["people"] * scale)
        inflows_n = int(options["inflows"] * scale)
        companies = min(options["companies"], max(1, projects // 10))
        bench_db = options["bench_db"] or f"{self._original}_bench"
        self._recreate(bench_db, template=options["template"])
        try:
            t0 = time.perf_counter()
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
            if not options["template"]:
                call_command("migrate", verbosity=0)
                self._seed(graph, inflows, companies, people)
                if options["save_seed"]:
                    self._clone(bench_db, options["save_seed"])
            seeded = time.perf_counter()
            self._print_settings()
            self.stdout.write(f"seeded in {seeded - t0:.1f} s (peak {peak_mb():.0f} MB)")
            n_entries = int(graph.node_targets.size + graph.terminal_targets.size)
            timings = self._run(n_entries=n_entries)
            finished = time.perf_counter()
            exact = self._verify(inflow_totals(inflows))
            self.stdout.write(" ".join(f"{k}_s={v:.2f}" for k, v in timings.items()))
            line = (
                f"projects={projects} entries={n_entries} "
                f"inflows={len(inflows)} seconds={finished - seeded:.1f} peak_mb={peak_mb():.0f} "
                f"exact={'yes' if exact else 'NO'}"
            )
            if not exact:
                self.stdout.write(line)
                raise CommandError("the run is not exact")
            if options["rerun_changed"] > 0:
                rerun = self._rerun(options, graph, companies, people)
                line += (
                    f" rerun_exact={'yes' if rerun['exact'] else 'NO'}"
                    f" rerun_same_as_full={'yes' if rerun['same'] else 'NO'}"
                    f" rerun_seconds={rerun['seconds']:.1f}"
                )
                if not (rerun["exact"] and rerun["same"]):
                    self.stdout.write(line)
                    raise CommandError("the rerun is not exact or differs from a full run")
            self.stdout.write(line)
            return {"seconds": finished - seeded, "entries": float(n_entries)}
        finally:
            if not options["keep"]:
                self._drop(bench_db)

    def _print_settings(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) "
                "ORDER BY name",
                [list(SETTINGS)],
            )
            shown = " ".join(f"{n}={v}" for n, v in cursor.fetchall())
        self.stdout.write(
            f"postgresql {shown} (the run's own transactions raise work_mem to 256MB)"
        )

    # --- database -----------------------------------------------------------------------

    def _admin_cursor(self):  # type: ignore[no-untyped-def]
        import psycopg

        params = connection.get_connection_params()
        params["dbname"] = "postgres"
        return psycopg.connect(**params, autocommit=True)

    def _recreate(self, name: str, template: str = "") -> None:
        connections.close_all()
        with self._admin_cursor() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if template:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                admin.execute(f'CREATE DATABASE "{name}"')
        for alias in ("default",):
            connections.databases[alias]["NAME"] = name
            settings.DATABASES[alias]["NAME"] = name

    def _clone(self, name: str, copy: str) -> None:
        connections.close_all()
        with self._admin_cursor() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')

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
        """Inflows with their ledger transactions, the way inflow_record writes them (after
        any already there: ids, references and accounts continue from the existing ones)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM payouts_account")
            next_id = [cursor.fetchone()[0] + 1]
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM payouts_ledgertransaction")
            first_txn = cursor.fetchone()[0] + 1
            cursor.execute(
                "SELECT owner, purpose, currency, id FROM payouts_account "
                "WHERE purpose IN ('contributed', 'pool')"
            )
            existing = {(o, p, c): i for o, p, c, i in cursor.fetchall()}
            accounts: dict[tuple[str, str, str], int] = {}

            def account(owner: str, purpose: str, currency: str) -> int:
                key = (owner, purpose, currency)
                if key in existing:
                    return existing[key]
                if key not in accounts:
                    accounts[key] = next_id[0]
                    next_id[0] += 1
                return accounts[key]

            txn_lines, posting_lines, inflow_lines = [], [], []
            for n, inflow in enumerate(inflows, start=first_txn):
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

    def _run(self, *, n_entries: int) -> dict[str, float]:
        """One run through the production stages, each timed and printed with its rows/s."""
        from payouts.models import Posting

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
                run.refresh_from_db()
                if name == "snapshot":
                    snapshot = run.snapshot or {}
                    rows = len(snapshot.get("versions", {})) + len(snapshot.get("inflows", []))
                    what = "versions and inflows"
                elif name == "compute":
                    rows, what = n_entries, "entries"
                else:
                    rows = Posting.objects.filter(
                        transaction__idempotency_key__startswith=f"run:{run.pk}:"
                    ).count()
                    what = "postings"
                self.stdout.write(
                    f"stage={name} seconds={timings[name]:.2f} rows={rows} ({what}) "
                    f"rows_per_s={rows / max(timings[name], 1e-9):,.0f}"
                )
        finally:
            runs.compute_distribution = real_compute  # type: ignore[assignment]
        self.run_id = run.pk
        return timings

    def _verify(self, expected: dict[str, int]) -> bool:
        from payouts.models import DistributionRun, Posting, RunAllocation

        run = DistributionRun.objects.get(pk=self.run_id)
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

    # --- the incremental rerun ------------------------------------------------------------------

    def _rerun(self, options, graph, companies: int, people: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
        """Change a share of the tables, record new inflows, time a second run, and compare
        its allocations with the same snapshot computed from scratch (no cache)."""
        from payouts.distribution import loader
        from payouts.models import DistributionRun, RunAllocation

        fraction = options["rerun_changed"]
        started = time.perf_counter()
        changed = self._change_tables(graph, fraction, options["seed"] + 2)
        inflows = build_synthetic_inflows(
            companies=companies,
            inflows=max(1, int(options["inflows"] * fraction)),
            seed=options["seed"] + 3,
        )
        self._seed_inflows(inflows, timezone.now().isoformat())
        self.stdout.write(
            f"rerun: {changed} tables changed, {len(inflows)} new inflows "
            f"(prepared in {time.perf_counter() - started:.1f} s, not counted)"
        )
        n_entries = int(graph.node_targets.size + graph.terminal_targets.size)
        start = time.perf_counter()
        timings = self._run(n_entries=n_entries)
        seconds = time.perf_counter() - start
        self.stdout.write("rerun " + " ".join(f"{k}_s={v:.2f}" for k, v in timings.items()))
        exact = self._verify(inflow_totals(inflows))
        run = DistributionRun.objects.get(pk=self.run_id)
        got = {
            (o, p, c): v
            for o, p, c, v in RunAllocation.objects.filter(run=run).values_list(
                "recipient", "purpose", "currency", "amount"
            )
        }
        original = loader.load_flow_graph_pg

        def uncached(**kwargs):  # type: ignore[no-untyped-def]
            return original(**kwargs, use_cache=False)

        loader.load_flow_graph_pg = uncached  # type: ignore[assignment]
        try:
            full = runs.run_compute(run.snapshot)  # type: ignore[arg-type]
        finally:
            loader.load_flow_graph_pg = original  # type: ignore[assignment]
        same = got == {k: v for k, v in full.allocations.items() if v}
        return {"seconds": seconds, "exact": exact, "same": same}

    def _change_tables(self, graph, fraction: float, seed: int) -> int:  # type: ignore[no-untyped-def]
        """New active versions for a random share of the tables: every share 10% smaller,
        plus one new person (a new recipient key) at 0.01%; the old versions superseded."""
        rng = np.random.default_rng(seed)
        n_nodes = graph.n_nodes
        count = max(1, int(n_nodes * fraction))
        tables = np.sort(rng.choice(n_nodes, size=count, replace=False)) + 1  # table ids
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE changed (table_id bigint, old_id bigint, new_id bigint, "
                "person bigint) ON COMMIT DROP"
            )
            cursor.execute("SELECT MAX(id) FROM projects_tableversion")
            top_version = cursor.fetchone()[0]
            cursor.execute("SELECT MAX(id) FROM projects_recipientkey")
            top_key = cursor.fetchone()[0]
            self._copy("changed", "table_id", (f"{t}\n" for t in tables.tolist()))
            cursor.execute(
                "UPDATE changed c SET old_id = st.active_version_id, "
                "new_id = %s + n.rank, person = %s + n.rank "
                "FROM projects_sharetable st, (SELECT table_id, row_number() OVER "
                "(ORDER BY table_id) AS rank FROM changed) n "
                "WHERE st.id = c.table_id AND n.table_id = c.table_id",
                [top_version, top_key],
            )
            cursor.execute(
                "INSERT INTO projects_recipientkey (id, key) "
                "SELECT person, 'github:fresh' || person FROM changed"
            )
            cursor.execute(
                "UPDATE projects_tableversion v SET status = 'superseded', superseded_at = now() "
                "FROM changed c WHERE v.id = c.old_id"
            )
            cursor.execute(
                "INSERT INTO projects_tableversion (id, table_id, number, status, "
                "reserve_millibips, source, note, created_at, activated_at) "
                "SELECT c.new_id, c.table_id, v.number + 1, 'active', 0, 'bench', '', now(), "
                "now() FROM changed c JOIN projects_tableversion v ON v.id = c.old_id"
            )
            cursor.execute(
                "INSERT INTO projects_tableentry (version_id, position, recipient, "
                "recipient_key_id, millibips, project_id, note) "
                "SELECT c.new_id, e.position, e.recipient, e.recipient_key_id, "
                "GREATEST(1, e.millibips * 9 / 10), e.project_id, '' "
                "FROM changed c JOIN projects_tableentry e ON e.version_id = c.old_id "
                "UNION ALL SELECT c.new_id, 32000, 'github:fresh' || c.person, c.person, 1000, "
                "NULL, '' FROM changed c"
            )
            cursor.execute(
                "UPDATE projects_tableversion v SET reserve_millibips = 10000000 - s.total "
                "FROM (SELECT version_id, SUM(millibips) AS total FROM projects_tableentry e "
                "JOIN changed c ON c.new_id = e.version_id GROUP BY version_id) s "
                "WHERE v.id = s.version_id"
            )
            cursor.execute(
                "UPDATE projects_sharetable st SET active_version_id = c.new_id "
                "FROM changed c WHERE st.id = c.table_id"
            )
            for table in ("projects_tableversion", "projects_recipientkey"):
                cursor.execute(SETVAL.format(table=table))
            cursor.execute("ANALYZE projects_tableversion")
        return count
