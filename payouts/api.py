"""API v1 money calls: inflows, distributions, balances (DESIGN.md)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from faiross.kernel.api_fields import NoNulCharField
from faiross.kernel.recipients import MAX_RECIPIENT_LENGTH, RecipientError, parse_recipient
from payouts.connect import transfers
from payouts.distribution import runs
from projects.auth import signed_in_user
from projects.idempotency import idempotent

from . import selectors
from .models import DistributionRun, PayoutRun
from .owners import owner_exists


def run_data(run: DistributionRun) -> dict[str, Any]:
    totals = run.totals or {}
    report = run.report or {}
    currency = sorted(totals)[0] if totals else None
    return {
        "id": run.pk,
        "status": run.status,
        "progress": run.progress,
        "error": run.error or None,
        "cutoff": run.cutoff,
        "currency": currency,
        "total": totals.get(currency) if currency else 0,
        "totals": totals,
        "inflows": run.inflows.count(),
        "recipients": sum(int(r.get("recipients", 0)) for r in report.values()),
    }


class DistributionsView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "DistributionStarted",
                {"id": serializers.IntegerField(), "status": serializers.CharField()},
            )
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        try:
            run = runs.distribution_run_start(started_by=signed_in_user(request))
        except runs.RunInProgress as exc:
            return Response(
                {"detail": f"Run {exc.run.pk} is still {exc.run.status}; runs never overlap."},
                status=status.HTTP_409_CONFLICT,
            )
        run.refresh_from_db()
        return Response({"id": run.pk, "status": run.status}, status=status.HTTP_201_CREATED)


class DistributionDetailView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        return Response(run_data(get_object_or_404(DistributionRun, pk=pk)))


class BalancesInput(serializers.Serializer):
    """``GET /api/v1/balances/{recipient}/``: an entry recipient (``project:``, ``user:``,
    ``github:``, ``email:``, ``purl:``) or ``company:<slug>`` (a company keeps what its table
    does not pass on, its reserve)."""

    recipient = NoNulCharField(max_length=MAX_RECIPIENT_LENGTH, trim_whitespace=False)

    def validate_recipient(self, value: str) -> str:
        kind, _, ident = value.partition(":")
        if kind == "company":
            if not ident:
                raise serializers.ValidationError("'company:' needs a company slug after it.")
            return value
        try:
            kind, ident = parse_recipient(value)
        except RecipientError as exc:
            raise serializers.ValidationError(exc.message) from None
        return f"{kind}:{ident}"


class BalancesView(APIView):
    """Anyone for projects, companies and packages; a person's balances (``user:``,
    ``github:``, ``email:``) only that person and staff, else 404."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, recipient: str) -> Response:
        serializer = BalancesInput(data={"recipient": recipient})
        serializer.is_valid(raise_exception=True)
        key = serializer.validated_data["recipient"]
        if key.startswith("company:") and not owner_exists(owner_key=key):
            return Response({"recipient": ["There is no company with this slug."]}, status=404)
        if not selectors.recipient_money_visible_to(recipient=key, user=request.user):
            # A person's money is private (money rule 9); others may not even learn whether
            # the recipient has any, so the answer is the same as for an unknown one.
            return Response({"detail": "Not found."}, status=404)
        return Response({"recipient": key, "balances": selectors.recipient_balances(recipient=key)})


# --- payouts (issue 6) ------------------------------------------------------------------------


def payout_run_data(run: PayoutRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "summary": run.summary,
        "error": run.error or None,
        "payouts": [
            {
                "id": p.pk,
                "recipient": p.recipient,
                "amount": p.amount,
                "currency": p.currency,
                "status": p.status,
            }
            for p in run.payouts.order_by("pk")[:1000]
        ],
    }


class PayoutRunsView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "PayoutRunStarted",
                {"id": serializers.IntegerField(), "status": serializers.CharField()},
            )
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        try:
            run = transfers.payout_run_start(started_by=signed_in_user(request))
        except transfers.PayoutRunInProgress as exc:
            return Response(
                {"detail": f"Payout run {exc.run.pk} is still running; runs never overlap."},
                status=status.HTTP_409_CONFLICT,
            )
        run.refresh_from_db()
        return Response({"id": run.pk, "status": run.status}, status=status.HTTP_201_CREATED)


class PayoutRunDetailView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        return Response(payout_run_data(get_object_or_404(PayoutRun, pk=pk)))
