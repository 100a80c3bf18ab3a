"""Running calls at the same time, each in its own thread (with its own database
connection), for the tests of what must happen once however many try at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def run_at_once(calls: Sequence[Callable[[], Any]], timeout: float = 30) -> list[Any]:
    """Start every call in a thread of its own, released together by a barrier; return each
    call's result, or the exception it raised, in the order of ``calls``. Each thread closes
    its database connection when done."""
    from django.db import connection

    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:  # handed back to the test
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a call did not finish in time"
    return outcomes
