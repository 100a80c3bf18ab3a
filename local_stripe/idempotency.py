"""Stripe's idempotency semantics.

A POST carrying an ``Idempotency-Key`` runs once: repeating it with the same parameters replays
the saved answer (with ``Idempotent-Replayed: true``); repeating it with other parameters is a
400 ``idempotency_error``; repeating it while the first is still running is a 409. Keys are
scoped to the account the request acts for and expire 24 hours (server clock) after first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import StripeError
from .store import Store

KEY_LIFETIME = 24 * 60 * 60


@dataclass(frozen=True)
class Saved:
    """A stored answer to replay."""

    status: int
    body: str
    request_id: str


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    """What must match for a key to be reused: the endpoint and every parameter."""
    return json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))


class Idempotency:
    """Looks up, reserves and saves idempotent answers in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._running: set[str] = set()
        self._writes = 0

    @staticmethod
    def scope(owner: str, key: str) -> str:
        """Keys of different accounts never collide."""
        return f"{owner}\x00{key}"

    def begin(self, scope: str, print_: str, now: int) -> Saved | None:
        """Return the saved answer to replay, or reserve the key for this request.

        Raises the 400 for a parameter mismatch and the 409 for a request still running.
        """
        with self.store.lock:
            record = self.store.idempotency.get(scope)
            if record is not None and now - record["created"] >= KEY_LIFETIME:
                del self.store.idempotency[scope]
                record = None
            if record is not None:
                if record["fingerprint"] != print_:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{scope.split(chr(0), 1)[1]}' if you meant to execute a different "
                        "request.",
                        type_="idempotency_error",
                    )
                return Saved(record["status"], record["body"], record["request_id"])
            # Checked under the same lock as the saved answers: a request that saves its answer
            # and then releases its key can never be missed by both checks.
            if scope in self._running:
                raise StripeError(
                    409,
                    "There is currently another in-progress request using this Idempotency-Key "
                    "(that probably means you submitted twice, and the other request is still "
                    "going through). Please try again later.",
                    code="idempotency_key_in_use",
                )
            self._running.add(scope)
        return None

    def finish(self, scope: str) -> None:
        """Release a key reserved by :meth:`begin` (after :meth:`save`, if it saves)."""
        with self.store.lock:
            self._running.discard(scope)

    def save(self, scope: str, print_: str, saved: Saved, now: int) -> None:
        """Keep an answer for replay until the key expires."""
        with self.store.lock:
            self.store.idempotency[scope] = {
                "fingerprint": print_,
                "status": saved.status,
                "body": saved.body,
                "request_id": saved.request_id,
                "created": now,
            }
            self._writes += 1
            if self._writes % 1000 == 0:
                self.prune(now)
            self.store.touch()

    def prune(self, now: int) -> None:
        """Drop expired keys so the store does not grow without bound."""
        with self.store.lock:
            expired = [
                scope
                for scope, record in self.store.idempotency.items()
                if now - record["created"] >= KEY_LIFETIME
            ]
            for scope in expired:
                del self.store.idempotency[scope]
