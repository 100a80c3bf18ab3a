"""The server's state: every object, balance, idempotency record and onboarding link.

One re-entrant lock guards everything. Requests are short, so serialising them is simple and
fast enough (thousands of requests per second), and it makes every endpoint atomic: a transfer
debits the platform, credits the account and records its event as one step.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .errors import no_such
from .ids import new_id

PLATFORM = "platform"
"""The owner key of objects that belong to the platform rather than a connected account."""

logger = logging.getLogger(__name__)


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``obj`` without the server's private ``_`` fields."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


class Store:
    """All state, guarded by :attr:`lock`; see the module docstring."""

    def __init__(self, initial_balance: dict[str, int]) -> None:
        self.lock = threading.RLock()
        self.initial_balance = dict(initial_balance)
        self.version = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything and start again with the initial platform balance."""
        with self.lock:
            self.objects: dict[str, dict[str, Any]] = {}
            self.owners: dict[str, str] = {}
            self.order: dict[str, list[str]] = {}
            self.balances: dict[str, dict[str, dict[str, int]]] = {}
            self.idempotency: dict[str, dict[str, Any]] = {}
            self.links: dict[str, dict[str, Any]] = {}
            self.platform_account_id = new_id("acct", 16)
            for currency, amount in self.initial_balance.items():
                self.bucket(PLATFORM, currency)["available"] = amount
            self.touch()

    def touch(self) -> None:
        """Note a change, so the persistence thread writes the data file."""
        self.version += 1

    # Objects

    def add(self, obj: dict[str, Any], owner: str = PLATFORM) -> dict[str, Any]:
        """Store a new object under its owner and return it."""
        with self.lock:
            self.objects[obj["id"]] = obj
            self.owners[obj["id"]] = owner
            self.order.setdefault(obj["object"], []).append(obj["id"])
            self.touch()
            return obj

    def remove(self, obj_id: str) -> None:
        """Forget an object (deleted accounts, customers, webhook endpoints)."""
        with self.lock:
            obj = self.objects.pop(obj_id, None)
            self.owners.pop(obj_id, None)
            if obj is not None:
                self.order[obj["object"]].remove(obj_id)
            self.touch()

    def find(self, obj_id: str) -> dict[str, Any] | None:
        """Any object by id, whoever owns it."""
        return self.objects.get(obj_id)

    def get(
        self,
        kind: str,
        obj_id: str,
        owner: str | None = PLATFORM,
        *,
        label: str | None = None,
        param: str = "id",
    ) -> dict[str, Any]:
        """The ``kind`` object ``obj_id`` visible to ``owner`` (any owner when None), or 404."""
        obj = self.objects.get(obj_id)
        if (
            obj is None
            or obj["object"] != kind
            or (owner is not None and self.owners.get(obj_id) != owner)
        ):
            raise no_such(label or kind.split(".")[-1].replace("_", " "), obj_id, param)
        return obj

    def owner_of(self, obj_id: str) -> str:
        """Who an object belongs to: :data:`PLATFORM` or a connected account id."""
        return self.owners.get(obj_id, PLATFORM)

    def all(self, kind: str, owner: str | None = PLATFORM) -> list[dict[str, Any]]:
        """Objects of one kind, newest first, as Stripe lists them."""
        with self.lock:
            ids = self.order.get(kind, [])
            return [
                self.objects[i]
                for i in reversed(ids)
                if owner is None or self.owners.get(i) == owner
            ]

    # Balances

    def bucket(self, owner: str, currency: str) -> dict[str, int]:
        """The ``available``/``pending`` amounts one owner holds in one currency."""
        per_owner = self.balances.setdefault(owner, {})
        return per_owner.setdefault(currency, {"available": 0, "pending": 0})

    def available(self, owner: str, currency: str) -> int:
        """What ``owner`` can spend now in ``currency``."""
        return self.balances.get(owner, {}).get(currency, {}).get("available", 0)

    def move(self, owner: str, currency: str, amount: int) -> None:
        """Add ``amount`` (negative to take) to an owner's available balance."""
        with self.lock:
            self.bucket(owner, currency)["available"] += amount
            self.touch()

    # Persistence

    def snapshot(self, clock_offset: float) -> str:
        """Everything worth keeping across restarts, as JSON text."""
        with self.lock:
            # Serialising under the lock is the copy: no request can change state half-way.
            return json.dumps(
                {
                    "format": 1,
                    "clock_offset": clock_offset,
                    "objects": self.objects,
                    "owners": self.owners,
                    "order": self.order,
                    "balances": self.balances,
                    "idempotency": self.idempotency,
                    "links": self.links,
                    "platform_account_id": self.platform_account_id,
                },
                separators=(",", ":"),
            )

    def restore(self, data: dict[str, Any]) -> float:
        """Load a snapshot; returns the clock offset it was taken with."""
        with self.lock:
            self.objects = data["objects"]
            self.owners = data["owners"]
            self.order = data["order"]
            self.balances = data["balances"]
            self.idempotency = data["idempotency"]
            self.links = data["links"]
            self.platform_account_id = data["platform_account_id"]
            return float(data.get("clock_offset", 0.0))


class Persistence:
    """Writes the store to a JSON file in the background whenever it changed.

    Writing on every request would make the cost of a request grow with the size of the state;
    instead a thread writes at most every ``interval`` seconds, atomically (temp file + rename),
    and once more on shutdown.
    """

    def __init__(self, store: Store, path: Path, offset: Any, interval: float = 0.5) -> None:
        self.store = store
        self.path = path
        self.offset = offset
        self.interval = interval
        self._saved_version = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stripe-server-save", daemon=True)

    def load(self) -> float | None:
        """Restore the store from the file if it exists; returns the saved clock offset."""
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            offset = self.store.restore(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(
                f"cannot read the local Stripe data file {self.path}: {exc}; "
                "move it away to start with a fresh state"
            ) from exc
        self._saved_version = self.store.version
        return offset

    def start(self) -> None:
        """Begin saving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write the final state."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.save()

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            started = time.monotonic()
            try:
                self.save()
            except OSError:
                logger.exception("could not write %s", self.path)
            # With a large state, save less often so that saving holds the lock < 1/4 of the time.
            wait = max(self.interval, 4 * (time.monotonic() - started))

    def save(self) -> None:
        """Write the file now if anything changed since the last write."""
        version = self.store.version
        if version == self._saved_version:
            return
        text = self.store.snapshot(self.offset())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.path)
        self._saved_version = version
