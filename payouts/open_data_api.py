"""API v1 open data of distribution runs (docs/verifiable-runs.md): what a done run published,
its project-level flows as JSON and CSV, and a recipient's inclusion proof."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from faiross.kernel.money import minor_to_decimal_str
from payouts.distribution import publish

from . import selectors
from .api import BalancesInput
from .models import DistributionRun, RunAllocation, RunFlow, RunPublication

FLOW_FIELDS = ("source", "target", "currency", "amount")


def _published(pk: int) -> tuple[DistributionRun, RunPublication]:
    """A done, published run, else 404 (a pending or failed run has nothing public)."""
    run = get_object_or_404(DistributionRun, pk=pk, status=DistributionRun.Status.DONE)
    publication = RunPublication.objects.filter(run=run).first()
    if publication is None:
        raise Http404(f"Run {pk} has not been published yet.")
    return run, publication


PublicRun = inline_serializer(
    "PublicRun",
    {
        "id": serializers.IntegerField(),
        "cutoff": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(),
        "totals": serializers.DictField(child=serializers.IntegerField()),
        "snapshot_sha256": serializers.CharField(),
        "merkle_roots": serializers.DictField(child=serializers.CharField()),
        "leaf_count": serializers.DictField(child=serializers.IntegerField()),
        "scheme": serializers.IntegerField(),
        "flows_match_allocations": serializers.BooleanField(),
    },
)

Flow = inline_serializer(
    "RunFlowHop",
    {
        "source": serializers.CharField(),
        "target": serializers.CharField(),
        "currency": serializers.CharField(),
        "amount": serializers.IntegerField(help_text="minor units"),
    },
    many=True,
)

Proof = inline_serializer(
    "RunProof",
    {
        "scheme": serializers.IntegerField(),
        "run": serializers.IntegerField(),
        "recipient": serializers.CharField(),
        "purpose": serializers.CharField(),
        "currency": serializers.CharField(),
        "amount": serializers.IntegerField(),
        "salt": serializers.CharField(),
        "leaf": serializers.CharField(),
        "index": serializers.IntegerField(),
        "leaf_count": serializers.IntegerField(),
        "path": serializers.ListField(
            child=inline_serializer(
                "RunProofStep",
                {"side": serializers.CharField(), "hash": serializers.CharField()},
            )
        ),
        "root": serializers.CharField(),
    },
)


class RunPublicView(APIView):
    """Anyone: a done run's cutoff, totals per currency, snapshot hash and Merkle roots."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PublicRun})
    def get(self, request: Request, pk: int) -> Response:
        run, publication = _published(pk)
        return Response(
            {
                "id": run.pk,
                "cutoff": run.cutoff,
                "finished_at": run.finished_at,
                "totals": run.totals or {},
                "snapshot_sha256": publication.snapshot_sha256,
                "merkle_roots": publication.merkle_roots,
                "leaf_count": publication.leaf_count,
                "scheme": publication.scheme,
                "flows_match_allocations": publication.flows_match_allocations,
            }
        )


def _flow_rows(run: DistributionRun) -> Iterator[tuple[str, str, str, int]]:
    return (
        RunFlow.objects.filter(run=run)
        .order_by("currency", "source", "target")
        .values_list(*FLOW_FIELDS)
        .iterator(chunk_size=20_000)
    )


def _flows_json(run: DistributionRun) -> Iterator[str]:
    yield "["
    for i, (source, target, currency, amount) in enumerate(_flow_rows(run)):
        row = {"source": source, "target": target, "currency": currency, "amount": amount}
        yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
    yield "]"


def _flows_csv(run: DistributionRun) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FLOW_FIELDS)
    for source, target, currency, amount in _flow_rows(run):
        writer.writerow([source, target, currency, minor_to_decimal_str(amount, currency)])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class RunFlowsJsonView(APIView):
    """Anyone: the run's project-level hops (people summed per paying node as ``people``),
    amounts in minor units. Streamed: a run of any size is one download."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: Flow})
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        run, _ = _published(pk)
        response = StreamingHttpResponse(_flows_json(run), content_type="application/json")
        response["Content-Disposition"] = f'inline; filename="run-{run.pk}-flows.json"'
        return response


class RunFlowsCsvView(APIView):
    """Anyone: the same hops as CSV (``source,target,currency,amount``, a decimal amount)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        run, _ = _published(pk)
        response = StreamingHttpResponse(_flows_csv(run), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-flows.csv"'
        return response


class RunProofView(APIView):
    """The Merkle inclusion proof of one recipient's line: a person's (``user:``, their
    ``github:`` / ``email:`` identities) only to that person and staff, else 404 (the same
    answer as for a recipient without a line); projects, companies and packages to anyone."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("recipient", str, required=True, description="e.g. user:alice"),
            OpenApiParameter(
                "currency",
                str,
                required=False,
                description="needed only when the recipient has lines in several currencies",
            ),
        ],
        responses={200: Proof},
    )
    def get(self, request: Request, pk: int) -> Response:
        serializer = BalancesInput(data={"recipient": request.query_params.get("recipient", "")})
        serializer.is_valid(raise_exception=True)
        recipient = serializer.validated_data["recipient"]
        run, _ = _published(pk)
        if not selectors.recipient_money_visible_to(recipient=recipient, user=request.user):
            raise Http404("Not found.")  # a person's line is private (money rule 9)
        currencies = sorted(
            set(
                RunAllocation.objects.filter(run=run, recipient=recipient).values_list(
                    "currency", flat=True
                )
            )
        )
        currency = (request.query_params.get("currency") or "").strip().lower()
        if not currency:
            if len(currencies) > 1:
                listed = ", ".join(currencies)
                return Response(
                    {"currency": [f"This recipient has lines in {listed}: name one."]},
                    status=400,
                )
            currency = currencies[0] if currencies else ""
        proof = (
            publish.run_proof(run=run, recipient=recipient, currency=currency)
            if currency in currencies
            else None
        )
        if proof is None:
            raise Http404("Not found.")
        return Response(proof)
