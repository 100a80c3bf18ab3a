"""The forecast page: what the next run is expected to bring, clearly an estimate."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from faiross.kernel.recipients import RecipientError, is_person_key, parse_recipient, user_key
from payouts.selectors import recipient_money_visible_to
from projects.privacy import viewer_is_staff

from .forecast import forecast_for, forecast_inflows_shown

SOURCE_LABELS = {
    "received": "Received, not yet distributed",
    "escrow": "Escrow of newly verified projects",
    "invoiced": "Open invoices (assumed paid in time)",
    "pledge": "Pledge periods beginning before the run",
}


def forecast_page(request: HttpRequest) -> HttpResponse:
    """``?recipient=`` (default: the signed-in person). A person's only to them and staff."""
    raw = request.GET.get("recipient", "").strip()
    if not raw:
        if not request.user.is_authenticated:
            raise Http404("Name a recipient, e.g. ?recipient=project:numpy.")
        raw = user_key(request.user.get_username())
    if raw.startswith("company:") and raw.removeprefix("company:"):
        recipient = raw
    else:
        try:
            kind, ident = parse_recipient(raw)
        except RecipientError:
            raise Http404("Not a recipient FairOSS knows.") from None
        recipient = f"{kind}:{ident}"
    if not recipient_money_visible_to(recipient=recipient, user=request.user):
        raise Http404("Not found.")  # a person's money is private (money rule 9)
    forecast = forecast_for(recipient=recipient)
    money_in = [
        {"label": SOURCE_LABELS[s], "currency": c, "amount": v}
        for s in SOURCE_LABELS
        for c, v in sorted(forecast.by_source.get(s, {}).items())
    ]
    return render(
        request,
        "companies/forecast.html",
        {
            "recipient": recipient,
            "is_person": is_person_key(recipient),
            "forecast": forecast,
            "amounts": sorted(forecast.amounts.items()),
            "money_in": money_in,
            "lines": forecast_inflows_shown(staff=viewer_is_staff(user=request.user)),
        },
    )
