from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def earnings(request: HttpRequest) -> HttpResponse:
    recipient = f"user:{request.user.get_username()}"
    return render(
        request,
        "payouts/earnings.html",
        {"recipient": recipient, "balances": selectors.recipient_balances(recipient=recipient)},
    )
