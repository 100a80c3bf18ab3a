"""The market's configurable rules (Django settings, with these defaults; README "Market")."""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict[str, object] = {
    # Non-accredited investors over any 12 months, shaped like Reg CF (17 CFR 227.100): the
    # greater of the floor or LOW_BIPS of the greater of income and net worth when either is
    # below THRESHOLD; HIGH_BIPS of the greater when both reach it; never above CAP. In the
    # ticker's currency's minor units.
    "FAIROSS_MARKET_LIMIT_FLOOR": 250_000,
    "FAIROSS_MARKET_LIMIT_LOW_BIPS": 500,
    "FAIROSS_MARKET_LIMIT_HIGH_BIPS": 1000,
    "FAIROSS_MARKET_LIMIT_THRESHOLD": 12_400_000,
    "FAIROSS_MARKET_LIMIT_CAP": 12_400_000,
    # FairOSS's fee on an offering's proceeds, paid by the project out of them (bips).
    "FAIROSS_MARKET_OFFERING_FEE_BIPS": 300,
    # Secondary market: the fee each side of a trade pays FairOSS (bips of the trade's value,
    # credited to platform/fees).
    "FAIROSS_MARKET_TRADE_FEE_BIPS": 50,
    # Deposits by card: the card processing fee FairOSS passes on (bips of the deposit).
    "FAIROSS_MARKET_CARD_FEE_BIPS": 290,
    "FAIROSS_MARKET_CARD_FEE_FIXED": 30,
    # Offerings: the shortest time from opening to the deadline, and the cancellation cut-off.
    "FAIROSS_MARKET_MIN_OFFERING_DAYS": 21,
    "FAIROSS_MARKET_CANCEL_HOURS": 48,
    # Largest deposit by card (minor units).
    "FAIROSS_MARKET_MAX_DEPOSIT": 10_000_000,
}

RESERVED_TICKERS = frozenset(
    {
        "ADMIN", "API", "FAIROSS", "FOSS", "FREE", "HALT", "LLC", "MARKET", "NULL", "NONE",
        "OSS", "SEC", "FINRA", "TEST", "USD", "EUR", "GBP", "CASH", "FEE", "FEES", "IPO",
        "NEW", "ALL", "BUY", "SELL", "STAFF", "ROOT", "SYSTEM", "SERIES",
    }
)  # fmt: skip


def setting(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))  # type: ignore[call-overload]
