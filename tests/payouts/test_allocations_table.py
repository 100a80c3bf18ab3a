"""runs.Allocations (a run's allocations held as arrays) reads exactly like the dict it
stands for, and its shortcuts for the report agree with the plain computation."""

import heapq

import numpy as np

from payouts.distribution.runs import PURPOSES, Allocations


def _table(seed: int) -> tuple[Allocations, dict[tuple[str, str, str], int]]:
    rng = np.random.default_rng(seed)
    labels = [f"github:p{i:04d}" for i in range(300)]
    purposes = rng.integers(0, 3, size=300).astype(np.int8)
    parts = {}
    plain: dict[tuple[str, str, str], int] = {}
    for currency in ("usd", "eur"):
        accounts = np.sort(rng.choice(300, size=200, replace=False))
        cents = rng.integers(1, 6, size=200)  # few distinct amounts: many ties at the cut
        parts[currency] = (accounts, cents)
        for a, v in zip(accounts.tolist(), cents.tolist(), strict=True):
            plain[(labels[a], PURPOSES[purposes[a]], currency)] = v
    return Allocations(labels=labels, purposes=purposes, parts=parts), plain


def test_reads_like_the_dict_it_stands_for():
    table, plain = _table(1)
    assert len(table) == len(plain) == 400
    assert dict(table) == plain and dict(table.items()) == plain
    key = next(iter(plain))
    assert table[key] == plain[key]
    assert sorted(table.rows()) == sorted((o, p, c, v) for (o, p, c), v in plain.items())


def test_largest_and_count_agree_with_heapq_ties_included():
    for seed in range(5):
        table, plain = _table(seed)
        for currency in ("usd", "eur", "chf"):
            mine = [(v, o, p) for (o, p, c), v in plain.items() if c == currency]
            for n in (0, 1, 7, 50, 500):
                assert table.largest(currency, n) == heapq.nlargest(n, mine)
            assert table.count(currency) == len(mine)
