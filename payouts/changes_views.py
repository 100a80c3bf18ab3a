"""The "why did it change" page: a recipient's money between two done runs, by cause."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from faiross.kernel.recipients import RecipientError, is_person_key, parse_recipient, user_key
from payouts.distribution.changes import (
    ChangeTooLarge,
    default_runs,
    done_runs,
    run_change_explain,
)

from . import selectors
from .models import DistributionRun


def _run_id(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Http404("A run is named by its number.") from None
    return value if value > 0 else None


def changes_page(request: HttpRequest) -> HttpResponse:
    """``?recipient=`` (default: the signed-in person), ``from`` and ``to`` (run ids;
    default: the two latest done runs). A person's page only to them and staff (404)."""
    raw = request.GET.get("recipient", "").strip()
    if not raw:
        if not request.user.is_authenticated:
            raise Http404("Name a recipient, e.g. ?recipient=project:numpy.")
        raw = user_key(request.user.get_username())
    try:
        kind, ident = parse_recipient(raw)
        recipient = f"{kind}:{ident}"
    except RecipientError:
        if not raw.startswith("company:") or not raw.removeprefix("company:"):
            raise Http404("Not a recipient FairOSS knows.") from None
        recipient = raw
    if not selectors.recipient_money_visible_to(recipient=recipient, user=request.user):
        raise Http404("Not found.")  # a person's money is private (money rule 9)
    pair = default_runs(
        run_from=_run_id(request.GET.get("from")), run_to=_run_id(request.GET.get("to"))
    )
    context: dict[str, object] = {
        "recipient": recipient,
        "is_person": is_person_key(recipient),
        "runs": done_runs()[:60],
        "pair": pair,
        "explanation": None,
        "too_large": "",
    }
    if pair is not None:
        try:
            context["explanation"] = run_change_explain(
                recipient=recipient, run_a=pair[0], run_b=pair[1]
            )
        except DistributionRun.DoesNotExist:
            raise Http404("Both runs must exist and be done.") from None
        except ChangeTooLarge as exc:
            context["too_large"] = str(exc)
    return render(request, "payouts/changes.html", context)
