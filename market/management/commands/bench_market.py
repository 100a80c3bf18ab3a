"""Benchmark of the secondary market: a random order stream through the real sequencer with
PostgreSQL persistence, then a ``kill -9`` in mid-burst and recovery (issue 13, Performance).

Clients are threads that each send one order, wait for its acknowledgement, and send the next
(closed loop); the sequencer thread takes whatever is waiting, up to ``--batch`` commands, as
one database transaction (group commit) and acknowledges them after it committed. Latency is
measured per order from the moment a client hands it over to its acknowledgement.

The crash test runs the same stream in a child process that prints the client order ids it got
acknowledged; the parent kills it with SIGKILL in mid-burst, recovers a fresh engine from the
journal, and counts acknowledged orders missing from the database (lost) and fills that the
database holds more than once or that a replay of the journal does not produce (duplicated).
The last line is ``orders=N seconds=S orders_per_s=R p99_ms=L lost=0 duplicated=0``.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.engine.book import BUY, CANCEL, DAY, GTC, LIMIT, MARKET, PLACE, SELL
from market.engine.sequencer import Sequencer
from market.engine.world import World, world_build


@dataclass
class _Pending:
    command: dict[str, Any]
    sent: float
    done: threading.Event = field(default_factory=threading.Event)
    accepted: bool = False
    seq: int | None = None


class Stream:
    """A reproducible random order stream over ``world`` (one per client thread)."""

    def __init__(self, world: World, seed: int, run: str, client: int) -> None:
        self.world = world
        self.rng = random.Random(seed * 1_000_003 + client)
        self.run = run
        self.client = client
        self.n = 0
        self.mine: list[int] = []  # this client's recently acknowledged order ids

    def next(self, last_prices: dict[str, int]) -> dict[str, Any]:
        rng = self.rng
        self.n += 1
        if self.mine and rng.random() < 0.15:
            return {"k": CANCEL, "id": self.mine.pop(rng.randrange(len(self.mine)))}
        ticker = rng.choice(self.world.tickers)
        mid = last_prices.get(ticker) or self.world.prices[ticker]
        side = BUY if rng.random() < 0.5 else SELL
        command: dict[str, Any] = {
            "k": PLACE,
            "t": ticker,
            "inv": rng.choice(self.world.investors),
            "side": side,
            "q": rng.randint(1, 20),
            "tif": GTC if rng.random() < 0.8 else DAY,
            "ck": f"{self.run}-{self.client}-{self.n}",
        }
        if rng.random() < 0.1:
            command["kind"] = MARKET
        else:
            command["kind"] = LIMIT
            # Around the last price, inside the band: most orders rest, many cross.
            offset = rng.randint(-40, 40) / 1000
            command["p"] = max(1, round(mid * (1 + offset)))
        return command


class Bench:
    def __init__(self, *, sequencer: Sequencer, batch: int, on_ack: Any = None) -> None:
        self.sequencer = sequencer
        self.batch = batch
        self.inbox: queue.Queue[_Pending] = queue.Queue()
        self.latencies: list[float] = []
        self.accepted = 0
        self.rejected = 0
        self.batches = 0
        self.stop = threading.Event()
        self.on_ack = on_ack
        self.error: BaseException | None = None

    def sequencer_loop(self) -> None:
        from django.db import connection

        try:
            while not self.stop.is_set():
                try:
                    first = self.inbox.get(timeout=0.05)
                except queue.Empty:
                    continue
                items = [first]
                while len(items) < self.batch:
                    try:
                        items.append(self.inbox.get_nowait())
                    except queue.Empty:
                        break
                for item in items:  # the engine knows investors by id; cancels by owner
                    if item.command["k"] == CANCEL:
                        order = self.sequencer.engine.orders.get(item.command["id"])
                        item.command["inv"] = order.investor if order else -1
                outcomes = self.sequencer.submit([i.command for i in items])
                now = time.perf_counter()
                self.batches += 1
                acked = []
                for item, outcome in zip(items, outcomes, strict=True):
                    item.accepted, item.seq = outcome.accepted, outcome.seq
                    self.latencies.append(now - item.sent)
                    if outcome.accepted:
                        self.accepted += 1
                        if item.command["k"] == PLACE:
                            acked.append(item.command["ck"])
                    else:
                        self.rejected += 1
                    item.done.set()
                if self.on_ack is not None and acked:
                    self.on_ack(acked)
        except BaseException as err:  # report it to the main thread, wake the clients
            self.error = err
            self.stop.set()
        finally:
            connection.close()

    def client_loop(self, stream: Stream, count: int) -> None:
        for _ in range(count):
            if self.stop.is_set():
                return
            last = {t: b.last_price or 0 for t, b in self.sequencer.engine.books.items()}
            item = _Pending(stream.next(last), time.perf_counter())
            self.inbox.put(item)
            while not item.done.wait(0.5):
                if self.stop.is_set():
                    return
            if item.accepted and item.command["k"] == PLACE and item.seq is not None:
                # An order's id is the sequence number of its place command (see the engine).
                stream.mine.append(item.seq)
                del stream.mine[:-20]

    def run(self, streams: list[Stream], per_client: int) -> float:
        seq_thread = threading.Thread(target=self.sequencer_loop, name="sequencer")
        seq_thread.start()
        clients = [
            threading.Thread(target=self.client_loop, args=(s, per_client), daemon=True)
            for s in streams
        ]
        start = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.perf_counter() - start
        self.stop.set()
        seq_thread.join()
        if self.error is not None:
            raise CommandError(f"the sequencer failed: {self.error!r}") from self.error
        return elapsed


def _cpu_seconds() -> tuple[float, float] | None:
    """CPU seconds used so far by this process and by its PostgreSQL backend (same host)."""
    import resource

    from django.db import connection

    me = resource.getrusage(resource.RUSAGE_SELF)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:  # the database runs elsewhere
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return me.ru_utime + me.ru_stime, (int(fields[11]) + int(fields[12])) / ticks


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Benchmark the market engine with PostgreSQL persistence, a kill -9 and recovery."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=20_000, help="orders in the timed run")
        parser.add_argument("--tickers", type=int, default=4)
        parser.add_argument("--investors", type=int, default=500)
        parser.add_argument("--clients", type=int, default=64, help="concurrent clients")
        parser.add_argument("--batch", type=int, default=512, help="most commands per commit")
        parser.add_argument("--crash-orders", type=int, default=6_000)
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--no-crash", action="store_true", help="skip the kill -9 test")
        # Internal: the child process of the crash test.
        parser.add_argument("--child", default="", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **o: Any) -> None:
        if o["child"]:
            self._child(o)
            return
        from django.db import connection

        if connection.vendor != "postgresql":
            raise CommandError("bench_market measures PostgreSQL persistence; set DATABASE_URL")
        run = f"B{int(time.time()) % 10**6:06d}"
        prefix = "".join(chr(ord("A") + int(d)) for d in run[1:])[:5]
        world = world_build(
            prefix=prefix,
            tickers=o["tickers"],
            investors=o["investors"],
            cash=10**10,
            units=min(10_000, 5_000_000 // o["investors"]),
        )
        self.stdout.write(
            f"world: {len(world.tickers)} tickers ({', '.join(world.tickers)}), "
            f"{len(world.investors)} investors"
        )
        lost = duplicated = 0
        if not o["no_crash"]:
            lost, duplicated = self._crash_test(o, world, run, prefix)
        sequencer = Sequencer()
        sequencer.sync_interval = 1.0
        t0 = time.perf_counter()
        sequencer.recover()
        self.stdout.write(
            f"recovery: replayed {sequencer.engine.seq} journal entries in "
            f"{time.perf_counter() - t0:.2f} s"
        )
        bench = Bench(sequencer=sequencer, batch=o["batch"])
        per_client = max(1, o["orders"] // o["clients"])
        streams = [Stream(world, o["seed"], run + "t", c) for c in range(o["clients"])]
        cpu0 = _cpu_seconds()
        elapsed = bench.run(streams, per_client)
        cpu1 = _cpu_seconds()
        total = bench.accepted + bench.rejected
        rate = total / elapsed if elapsed else 0.0
        p50 = percentile(bench.latencies, 50) * 1000
        p99 = percentile(bench.latencies, 99) * 1000
        self.stdout.write(
            f"timed run: {total} commands ({bench.accepted} accepted, {bench.rejected} refused) "
            f"in {bench.batches} batches of {total / max(1, bench.batches):.0f} on average; "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
        if cpu0 is not None and cpu1 is not None:
            py, pg = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
            self.stdout.write(
                f"cpu: this process {py:.2f} s, its PostgreSQL backend {pg:.2f} s (0 when the "
                f"server's processes are not visible here) for {elapsed:.2f} s of wall time "
                f"({os.getloadavg()[0]:.1f} load average: a shared machine gives "
                f"less than its cores); {total / max(py + pg, 1e-9):.0f} orders per CPU-second"
            )
        lost_extra, dup_extra = self._fills_check(sequencer)
        duplicated += dup_extra
        lost += lost_extra
        self.stdout.write("ledger_check:")
        call_command("ledger_check", stdout=self.stdout)
        self.stdout.write(
            f"orders={total} seconds={elapsed:.2f} orders_per_s={rate:.0f} p99_ms={p99:.1f} "
            f"lost={lost} duplicated={duplicated}"
        )

    # --- the crash test ----------------------------------------------------------------------

    def _crash_test(
        self, o: dict[str, Any], world: World, run: str, prefix: str
    ) -> tuple[int, int]:
        args = [
            sys.executable,
            sys.argv[0] if sys.argv[0].endswith("manage.py") else "manage.py",
            "bench_market",
            "--child",
            f"{prefix}:{run}c",
            "--orders",
            str(o["crash_orders"]),
            "--clients",
            str(o["clients"]),
            "--batch",
            str(o["batch"]),
            "--seed",
            str(o["seed"]),
        ]
        child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        assert child.stdout is not None
        acked: list[str] = []
        kill_at = o["crash_orders"] // 2
        for line in child.stdout:
            if line.startswith("ACK "):
                acked.extend(line[4:].split())
                if len(acked) >= kill_at:
                    child.send_signal(signal.SIGKILL)
                    break
        child.wait()
        if child.returncode != -signal.SIGKILL:
            raise CommandError(f"the child ended before the kill (exit {child.returncode})")
        from market.models import Order

        found: set[str] = set()
        for i in range(0, len(acked), 5000):
            found.update(
                key
                for key in Order.objects.filter(
                    client_order_id__in=acked[i : i + 5000]
                ).values_list("client_order_id", flat=True)
                if key
            )
        lost = len(set(acked) - found)
        self.stdout.write(
            f"crash test: killed the sequencer process (SIGKILL) after {len(acked)} "
            f"acknowledged orders; {lost} of them missing after recovery"
        )
        sequencer = Sequencer()
        sequencer.recover()
        lost_fills, duplicated = self._fills_check(sequencer)
        return lost + lost_fills, duplicated

    def _fills_check(self, sequencer: Sequencer) -> tuple[int, int]:
        """Replay the whole journal and compare its fills with the database's trades."""
        from django.db.models import Count

        from market.engine.book import Engine
        from market.models import JournalEntry, Trade

        engine = Engine(fee_bps=sequencer.engine.fee_bps)
        replayed = {}
        entries = JournalEntry.objects.order_by("sequence").values_list("sequence", "command")
        for seq, command in entries.iterator(chunk_size=5000):
            for result in engine.replay([(seq, command)]):
                for t in result.trades:
                    replayed[t.id] = (t.buy_order, t.sell_order, t.price, t.quantity)
        stored: dict[int, tuple[int, int, int, int]] = {}
        rows = Trade.objects.values_list(
            "sequence", "buy_order__sequence", "sell_order__sequence", "price", "units"
        )
        for pk, *rest in rows.iterator(chunk_size=10_000):
            stored[pk] = tuple(rest)  # type: ignore[assignment]
        lost = sum(1 for k, v in replayed.items() if stored.get(k) != v)
        duplicated = sum(1 for k in stored if k not in replayed)
        # A fill is one ledger transaction: two trades never share one, no trade has two.
        duplicated += (
            Trade.objects.values("transaction_id").annotate(n=Count("id")).filter(n__gt=1).count()
        )
        self.stdout.write(
            f"fills: {len(replayed)} from replaying the journal, {len(stored)} in the database; "
            f"{lost} missing, {duplicated} extra"
        )
        return lost, duplicated

    def _child(self, o: dict[str, Any]) -> None:
        """The crash test's victim: the same stream; prints acknowledged client order ids."""
        from django.contrib.auth import get_user_model

        from market.models import Ticker

        prefix, run = o["child"].split(":")
        symbols = list(
            Ticker.objects.filter(symbol__startswith=prefix)
            .order_by("pk")
            .values_list("symbol", flat=True)
        )
        investors = list(
            get_user_model()
            .objects.filter(username__startswith=f"{prefix.lower()}-inv")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        world = World(tickers=symbols, investors=investors, prices=dict.fromkeys(symbols, 1000))
        sequencer = Sequencer()
        sequencer.sync_interval = 1.0
        sequencer.recover()

        def on_ack(ids: list[str]) -> None:
            sys.stdout.write("ACK " + " ".join(ids) + "\n")
            sys.stdout.flush()

        bench = Bench(sequencer=sequencer, batch=o["batch"], on_ack=on_ack)
        per_client = max(1, o["orders"] // o["clients"])
        streams = [Stream(world, o["seed"], run, c) for c in range(o["clients"])]
        bench.run(streams, per_client)
