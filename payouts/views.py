from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from . import runs, selectors
from .models import DistributionRun, RunAllocation
from .sankey import sankey_svg


def received_lines(*, recipient: str, limit: int = 10) -> list[dict[str, object]]:
    """'Received from run N' lines with the hops that brought the money."""
    lines = []
    allocations = (
        RunAllocation.objects.filter(recipient=recipient, run__status="done")
        .select_related("run")
        .order_by("-run_id")[:limit]
    )
    for allocation in allocations:
        try:
            routes = runs.run_explain(run=allocation.run, recipient=recipient)
        except Exception:  # an explanation is a courtesy; the amount stands without it
            routes = []
        lines.append({"allocation": allocation, "routes": routes})
    return lines


@login_required
def earnings(request: HttpRequest) -> HttpResponse:
    recipient = f"user:{request.user.get_username()}"
    return render(
        request,
        "payouts/earnings.html",
        {
            "recipient": recipient,
            "balances": selectors.recipient_balances(recipient=recipient),
            "received": received_lines(recipient=recipient),
        },
    )


def run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(DistributionRun.objects.order_by("-id"), 30).get_page(request.GET.get("page"))
    return render(request, "payouts/run_list.html", {"page": page})


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(DistributionRun, pk=pk)
    report = run.report or {}
    currencies = []
    for currency, data in sorted(report.items()):
        currencies.append(
            {
                "currency": currency,
                "data": data,
                "sankey": mark_safe(sankey_svg(flows=data.get("flows", []), currency=currency)),  # noqa: S308
            }
        )
    return render(request, "payouts/run_detail.html", {"run": run, "currencies": currencies})
