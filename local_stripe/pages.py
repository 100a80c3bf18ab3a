"""The HTML pages: the index, simulated Connect onboarding, and the Checkout pay page.

They stand in for connect.stripe.com and checkout.stripe.com so a person (or a browser test)
can go through the flows without the internet. Every page carries a TEST MODE banner.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from .api.accounts import ONBOARDING_OUTCOMES, apply_onboarding
from .api.checkout import expire_if_due, pay_session
from .web import Request, Response, html_response, redirect

if TYPE_CHECKING:
    from .app import App

TITLE = "FairOSS local Stripe test server — TEST MODE"

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
.banner{background:#ffb020;color:#000;font-weight:700;padding:.5rem 1rem;border-radius:.3rem}
button{font-size:1rem;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0;cursor:pointer}
.primary{background:#635bff;color:#fff;border:0;border-radius:.3rem}
table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd}
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<p class='banner'>TEST MODE — {escape(TITLE)}. No real money moves.</p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return html_response(status, html)


def _form(request: Request) -> dict[str, str]:
    fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def index(app: App, request: Request) -> Response:
    """``GET /``: what this server is and what it holds."""
    with app.store.lock:
        counts = {kind: len(ids) for kind, ids in sorted(app.store.order.items()) if ids}
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{n}</td></tr>" for k, n in counts.items())
    body = (
        "<p>A Stripe-compatible API for FairOSS development and tests. Point the official "
        f"<code>stripe</code> library at <code>{escape(request.base_url)}</code> "
        "with any <code>sk_test_…</code> key.</p>"
        f"<p>Server clock offset: {app.clock.offset:.0f} s. "
        "Recent requests: <a href='/_test/requests'>/_test/requests</a>. "
        "Webhook deliveries: <a href='/_test/webhooks'>/_test/webhooks</a>.</p>"
        f"<table><tr><th>object</th><th>count</th></tr>{rows}</table>"
    )
    return _page(TITLE, body)


def onboarding(app: App, request: Request, token: str) -> Response:
    """``/onboarding/{token}``: the page an account link opens, and its buttons."""
    with app.store.lock:
        link = app.store.links.get(token)
        if link is None:
            return _page("Unknown onboarding link", "<p>This link does not exist.</p>", 404)
        if link["used"] or app.clock.now() >= link["expires_at"]:
            # Like Stripe: an expired or already used link sends the user to refresh_url.
            return redirect(link["refresh_url"])
        account = app.store.find(link["account"])
        if account is None:
            return _page("Account deleted", "<p>The account no longer exists.</p>", 404)
        if request.method == "POST":
            outcome = _form(request).get("action", "")
            if outcome not in ONBOARDING_OUTCOMES:
                return _page("Bad request", "<p>Unknown action.</p>", 400)
            link["used"] = True
            apply_onboarding(app, account, outcome)
            return redirect(link["return_url"])
    body = (
        f"<p>Connected account <code>{escape(account['id'])}</code>"
        f" ({escape(account.get('email') or 'no email')}).</p>"
        "<p>Choose what the account holder does on Stripe's onboarding form:</p>"
        "<form method='post'>"
        "<button class='primary' name='action' value='complete'>Complete</button>"
        "<button name='action' value='incomplete'>Leave incomplete</button>"
        "<button name='action' value='restrict'>Restrict</button>"
        "</form>"
    )
    return _page("Complete onboarding (test mode)", body)


def checkout(app: App, request: Request, session_id: str) -> Response:
    """``/pay/{session_id}``: the Checkout page with its Pay button."""
    with app.store.lock:
        session = app.store.find(session_id)
        if session is None or session["object"] != "checkout.session":
            return _page("Unknown Checkout Session", "<p>No such session.</p>", 404)
        expire_if_due(app, session)
        if session["status"] != "open":
            return _page(
                "Checkout Session closed",
                f"<p>This session is {escape(session['status'])}.</p>",
                410,
            )
        if request.method == "POST":
            pay_session(app, session)
            return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
    return _page("Pay (test mode)", _checkout_body(session))


def _checkout_body(session: dict[str, object]) -> str:
    items = session["_line_items"]
    assert isinstance(items, list)
    rows = "".join(
        f"<tr><td>{escape(str(i['description']))}</td><td>{i['quantity']}</td>"
        f"<td>{_money(i['amount_total'], i['currency'])}</td></tr>"
        for i in items
    )
    total = _money(session["amount_total"], session["currency"])
    cancel = session.get("cancel_url")
    cancel_link = f" <a href='{escape(str(cancel))}'>Cancel</a>" if cancel else ""
    return (
        f"<table><tr><th>item</th><th>qty</th><th>amount</th></tr>{rows}"
        f"<tr><th>Total</th><td></td><th>{total}</th></tr></table>"
        "<p>Paid with the test card 4242 4242 4242 4242 (pm_card_visa).</p>"
        f"<form method='post'><button class='primary' name='action' value='pay'>Pay {total}"
        f"</button>{cancel_link}</form>"
    )


def _money(amount: object, currency: object) -> str:
    # Display only: amounts are minor units; zero-decimal currencies are not special-cased.
    assert isinstance(amount, int)
    return f"{amount // 100}.{amount % 100:02d} {str(currency).upper()}"
