"""Connect accounts (Express) and their onboarding links."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid_param, no_such
from ..ids import new_id, new_token
from ..router import Collection, Context, route
from ..store import PLATFORM, public
from ..webhooks import diff

if TYPE_CHECKING:
    from ..app import App

LINK_LIFETIME = 5 * 60
ONBOARDING_OUTCOMES = ("complete", "incomplete", "restrict")
ACCOUNTS = Collection("account", "/v1/accounts", owner=PLATFORM)

# What a fresh Express account must still provide, as Stripe lists it.
INITIAL_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "external_account",
    "individual.dob.day",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]

_CURRENCY_BY_COUNTRY = {"US": "usd", "GB": "gbp", "CA": "cad", "AU": "aud", "CH": "chf"}
_EURO_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "CY",
        "DE",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PT",
        "SI",
        "SK",
    ]
)


def default_currency(country: str) -> str:
    """The currency Stripe would pick for an account in ``country``."""
    if country in _EURO_COUNTRIES:
        return "eur"
    return _CURRENCY_BY_COUNTRY.get(country, "usd")


def _requested_capabilities(ctx: Context) -> dict[str, str]:
    caps: dict[str, str] = {}
    requested = ctx.params.obj("capabilities")
    for name in requested.data:
        if requested.obj(name).boolean("requested"):
            caps[name] = "inactive"
    return caps


@route("POST", "/v1/accounts")
def create_account(ctx: Context) -> dict[str, Any]:
    """Create a connected account that still has to complete onboarding."""
    p = ctx.params
    p.only("""
        type country email default_currency capabilities metadata settings controller
        business_type business_profile individual company tos_acceptance
    """)
    if ctx.account:
        raise StripeError(400, "Connected accounts cannot create other accounts.")
    account_type = p.string("type", default="express", choices=("express", "standard", "custom"))
    country = (p.string("country") or "US").upper()
    if len(country) != 2 or not country.isalpha():
        raise invalid_param("country", f"Invalid country: {country}")
    currency = p.currency("default_currency", required=False) or default_currency(country)
    account_id = new_id("acct", 16)
    account = {
        "id": account_id,
        "object": "account",
        "type": account_type,
        "country": country,
        "email": p.string("email"),
        "default_currency": currency,
        "business_type": p.string("business_type"),
        "business_profile": {"name": None, "url": None, "mcc": None, "product_description": None},
        "capabilities": _requested_capabilities(ctx),
        "charges_enabled": False,
        "payouts_enabled": False,
        "details_submitted": False,
        "requirements": _requirements(INITIAL_REQUIREMENTS, "requirements.past_due"),
        "external_accounts": _external_accounts(account_id, []),
        "tos_acceptance": {"date": None},
        "settings": {"payouts": {"schedule": {"interval": "manual"}}},
        "metadata": p.metadata(),
        "created": ctx.now(),
        "livemode": False,
    }
    ctx.store.add(account)
    return public(account)


def _requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {
        "currently_due": list(due),
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
        "current_deadline": None,
        "disabled_reason": disabled_reason,
        "errors": [],
    }


def _external_accounts(account_id: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "total_count": len(data),
        "url": f"/v1/accounts/{account_id}/external_accounts",
    }


def _visible_account(ctx: Context, account_id: str) -> dict[str, Any]:
    # A connected account may read itself; the platform may read all of its accounts.
    if ctx.account and ctx.account != account_id:
        raise no_such("account", account_id, param="account")
    return ACCOUNTS.get(ctx, account_id)


@route("GET", "/v1/accounts/{account_id}")
def retrieve_account(ctx: Context, account_id: str) -> dict[str, Any]:
    """One connected account."""
    return public(_visible_account(ctx, account_id))


@route("GET", "/v1/account")
def retrieve_own_account(ctx: Context) -> dict[str, Any]:
    """The account the key acts for: the connected account, or a stub for the platform."""
    if ctx.account:
        return public(ACCOUNTS.get(ctx, ctx.account))
    return {
        "id": ctx.store.platform_account_id,
        "object": "account",
        "type": "standard",
        "country": "US",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "settings": {"dashboard": {"display_name": "FairOSS (local test platform)"}},
        "metadata": {},
        "livemode": False,
    }


@route("POST", "/v1/accounts/{account_id}")
def update_account(ctx: Context, account_id: str) -> dict[str, Any]:
    """Change an account's email, metadata, profile or requested capabilities."""
    p = ctx.params
    p.only("email metadata business_profile capabilities default_currency settings business_type")
    account = _visible_account(ctx, account_id)
    with ctx.updating(account, "account.updated", account=account_id):
        account["metadata"] = p.metadata(account["metadata"])
        account["email"] = p.string("email", default=account["email"])
        account["business_type"] = p.string("business_type", default=account["business_type"])
        profile = p.obj("business_profile")
        for key in ("name", "url", "mcc", "product_description"):
            if profile.has(key):
                account["business_profile"][key] = profile.string(key)
        for name in _requested_capabilities(ctx):
            active = account["details_submitted"] and account["payouts_enabled"]
            account["capabilities"].setdefault(name, "active" if active else "inactive")
    return public(account)


@route("DELETE", "/v1/accounts/{account_id}")
def delete_account(ctx: Context, account_id: str) -> dict[str, Any]:
    """Delete a test connected account."""
    _visible_account(ctx, account_id)
    ctx.store.remove(account_id)
    return {"id": account_id, "object": "account", "deleted": True}


ACCOUNTS.list_route()


@route("POST", "/v1/account_links")
def create_account_link(ctx: Context) -> dict[str, Any]:
    """A single-use onboarding URL on this server, valid for five minutes."""
    p = ctx.params
    p.only("account refresh_url return_url type collect collection_options")
    account_id = p.req_string("account")
    ACCOUNTS.get(ctx, account_id, param="account")
    link_type = p.req_string("type", choices=("account_onboarding", "account_update"))
    refresh_url = p.req_string("refresh_url")
    return_url = p.req_string("return_url")
    token = new_token()
    now = ctx.now()
    ctx.store.links[token] = {
        "account": account_id,
        "type": link_type,
        "refresh_url": refresh_url,
        "return_url": return_url,
        "expires_at": now + LINK_LIFETIME,
        "used": False,
    }
    ctx.store.touch()
    return {
        "object": "account_link",
        "created": now,
        "expires_at": now + LINK_LIFETIME,
        "url": f"{ctx.base_url}/onboarding/{token}",
    }


def apply_onboarding(app: App, account: dict[str, Any], outcome: str) -> None:
    """What the onboarding page's buttons do: complete, leave incomplete, or restrict."""
    if outcome not in ONBOARDING_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(ONBOARDING_OUTCOMES)}")
    if outcome == "incomplete":
        return
    with app.store.lock:
        before = copy.deepcopy(account)
        if outcome == "complete":
            _complete(app, account)
        else:
            _restrict(account)
        changes = diff(before, account)
        if changes:
            app.store.touch()
            app.events.emit("account.updated", account, previous=changes, account=account["id"])


def _complete(app: App, account: dict[str, Any]) -> None:
    account["details_submitted"] = True
    account["charges_enabled"] = True
    account["payouts_enabled"] = True
    account["capabilities"] = {name: "active" for name in account["capabilities"]} or {
        "transfers": "active"
    }
    account["requirements"] = _requirements([], None)
    account["tos_acceptance"] = {"date": app.clock.now()}
    if not account["external_accounts"]["data"]:
        bank = {
            "id": new_id("ba", 24),
            "object": "bank_account",
            "account": account["id"],
            "bank_name": "STRIPE TEST BANK",
            "country": account["country"],
            "currency": account["default_currency"],
            "default_for_currency": True,
            "last4": "6789",
            "status": "new",
        }
        account["external_accounts"] = _external_accounts(account["id"], [bank])


def _restrict(account: dict[str, Any]) -> None:
    # Restricted: details were given, but Stripe needs more and has switched payouts off.
    account["details_submitted"] = True
    account["charges_enabled"] = False
    account["payouts_enabled"] = False
    account["capabilities"] = {name: "inactive" for name in account["capabilities"]}
    account["requirements"] = _requirements(
        ["individual.verification.document"], "requirements.past_due"
    )
