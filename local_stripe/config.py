"""Settings of one server instance (command-line flags map onto these fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 12111
DEFAULT_WEBHOOK_SECRET = "whsec_faiross_local_test_secret"
API_VERSION = "2026-10-28.endive"

# The platform starts rich so the demo can pay people before any money came in by card:
# 1,000,000.00 in each currency FairOSS uses (amounts are minor units).
DEFAULT_INITIAL_BALANCE = {"usd": 100_000_000, "eur": 100_000_000}


@dataclass
class ServerConfig:
    """How the server listens, where it sends webhooks and how it misbehaves by default."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_file: Path | None = None
    webhook_url: str | None = None
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    public_url: str | None = None
    api_key: str | None = None
    rate_limit: float | None = None
    initial_balance: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_INITIAL_BALANCE))
    payout_mode: str = "auto"
    lenient_params: bool = False
    webhook_max_attempts: int = 5
    webhook_retry_base: float = 1.0
    webhook_timeout: float = 5.0
    api_version: str = API_VERSION
    verbose: bool = False


def parse_balance(text: str) -> dict[str, int]:
    """Parse ``usd=100000,eur=5000`` into ``{"usd": 100000, "eur": 5000}``."""
    result: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        currency, _, amount = part.partition("=")
        if len(currency) != 3 or not amount.isdigit():
            raise ValueError(f"expected currency=amount in minor units, got {part!r}")
        result[currency.lower()] = int(amount)
    return result
