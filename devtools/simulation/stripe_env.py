"""A private local Stripe server for the simulation, and its ``/_test`` control API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

SECRET_KEY = "sk_test_faiross_simulation"


class Control:
    """The local server's ``/_test`` API and its HTML pages, over plain urllib."""

    def __init__(self, base_url: str, app: Any = None) -> None:
        self.base_url = base_url
        self.app = app  # the server's app when it runs in this process

    def events(self, types: tuple[str, ...]) -> list[dict[str, Any]]:
        """The server's events of ``types`` (platform and Connect), oldest first, as the
        payloads it sends (needs the server in this process)."""
        from local_stripe.store import public

        assert self.app is not None, "events are read from a server in this process"
        with self.app.store.lock:
            return [
                public(e) for e in reversed(self.app.store.all("event", None)) if e["type"] in types
            ]

    def transfers(self) -> list[dict[str, Any]]:
        """Every transfer the server holds (id, amount, destination, metadata): read from
        its state when it runs in this process, else paged through its API."""
        if self.app is not None:
            with self.app.store.lock:
                return [
                    {
                        "id": t["id"],
                        "amount": t["amount"],
                        "destination": t["destination"],
                        "metadata": dict(t.get("metadata") or {}),
                    }
                    for t in self.app.store.all("transfer")
                ]
        from payouts.connect._common import _stripe

        return [
            {
                "id": t.id,
                "amount": t.amount,
                "destination": t.destination,
                "metadata": t.metadata.to_dict() if t.metadata else {},
            }
            for t in _stripe().v1.transfers.list(params={"limit": 100}).auto_paging_iter()
        ]

    def call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 - the local server's http URL
            self.base_url + path, data=body, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def reset(self) -> None:
        self.call("POST", "/_test/reset", {})

    def fault(self, path_prefix: str, mode: str, **options: Any) -> None:
        self.call("POST", "/_test/faults", {"path_prefix": path_prefix, "mode": mode, **options})

    def faults_clear(self) -> None:
        self.call("DELETE", "/_test/faults")

    def onboard(self, account_id: str, outcome: str) -> None:
        self.call("POST", f"/_test/accounts/{account_id}/onboarding", {"outcome": outcome})

    def page_post(self, url: str, form: dict[str, str]) -> tuple[int, str | None]:
        """POST a form to one of the server's pages without following redirects."""
        opener = urllib.request.build_opener(_NoRedirect)
        request = urllib.request.Request(url, data=urlencode(form).encode())  # noqa: S310
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def start_server() -> Any:
    """A fresh local Stripe server on a free port (the caller stops it)."""
    from local_stripe import LocalStripeServer, ServerConfig

    return LocalStripeServer(
        ServerConfig(
            port=0,
            initial_balance={"usd": 10**10, "eur": 10**10},
            webhook_retry_base=0.05,
        )
    ).start()
