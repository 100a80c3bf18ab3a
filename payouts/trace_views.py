"""The trace page: ``/runs/<id>/trace/?recipient=…``, a credit hop by hop."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from faiross.kernel.recipients import user_key
from payouts.distribution.trace import Hop, run_trace, trace_problems, trace_visible_to
from projects.privacy import recipient_label_shown

from .api import BalancesInput
from .models import DistributionRun


def _hop_text(hop: Hop, *, direction: str, user: object) -> tuple[str, str]:
    """How a page names a hop, and where it links (projects link to their page)."""
    name = recipient_label_shown(key=hop.key, user=user) if hop.key else ""  # type: ignore[arg-type]
    url = ""
    if hop.kind in ("node", "cycle") and hop.key.startswith("project:"):
        url = reverse("projects:detail", args=[hop.key.partition(":")[2]])
    if hop.kind == "recipient":
        return f"{name} received", url
    if hop.kind == "node":
        return (f"from {name}" if direction == "up" else f"to {name}"), url
    if hop.kind == "cycle":
        return f"{name} again: went round a cycle (its sources are split above)", url
    if hop.kind == "inflows":
        return "payments received by the company", url
    if hop.kind == "inflow":
        return hop.detail, url
    if hop.kind == "escrow":
        return "escrow released from earlier runs", url
    if hop.kind == "people":
        count = hop.people or 0
        return f"{count} {'person' if count == 1 else 'people'} (private: counted and summed)", url
    if hop.kind == "kept":
        return "kept (its reserve)", url
    if hop.kind == "account":
        owner, _, purpose = hop.key.rpartition(" (")
        shown = recipient_label_shown(key=owner, user=user)  # type: ignore[arg-type]
        return f"waiting for {shown} ({purpose}", url
    if hop.kind == "more":
        return f"{hop.detail} smaller hops, summed", url
    return name, url


def run_trace_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Anyone may open the page; what it traces follows :func:`trace_visible_to` (a person's
    credit only for that person and staff, 404 for everyone else, as for no credit)."""
    run = get_object_or_404(DistributionRun, pk=pk, status=DistributionRun.Status.DONE)
    raw = request.GET.get("recipient", "").strip()
    own = user_key(request.user.get_username()) if request.user.is_authenticated else ""
    context: dict[str, object] = {"run": run, "raw": raw, "own": own}
    if not raw:
        return render(request, "payouts/trace.html", context)
    form = BalancesInput(data={"recipient": raw})
    if not form.is_valid():
        context["errors"] = [str(e) for e in form.errors.get("recipient", [])]
        return render(request, "payouts/trace.html", context, status=400)
    recipient = form.validated_data["recipient"]
    if not trace_visible_to(recipient=recipient, user=request.user):
        raise Http404("Nothing to trace.")
    trace = run_trace(run=run, recipient=recipient)
    context.update(
        {
            "recipient": recipient,
            "trace": trace,
            "trees": [
                {
                    "ct": ct,
                    "hops": [
                        (hop, *_hop_text(hop, direction=trace.direction, user=request.user))
                        for hop in ct.in_order()
                    ],
                }
                for ct in trace.currencies
            ],
            "adds_up": not trace_problems(trace),
        }
    )
    return render(request, "payouts/trace.html", context)
