"""API v1: ``GET /api/v1/trace/?recipient=…&run=…``, the hop-by-hop trace of a credit
(:mod:`payouts.distribution.trace`)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payouts.distribution.trace import Trace, run_trace, trace_visible_to

from .api import BalancesInput
from .models import DistributionRun


class TraceInput(BalancesInput):
    """``recipient``: ``user:``, ``github:``, ``email:``, ``project:``, ``purl:`` or
    ``company:<slug>``; ``run``: a done distribution run's id."""

    run = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class TraceHopSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="unique within its currency")
    # Declared fields are taken off the class by DRF's metaclass, so these names do not
    # shadow Field.parent / Field.label at run time; mypy only sees the class body.
    parent = serializers.IntegerField(  # type: ignore[assignment]
        allow_null=True, help_text="the hop this one is part of"
    )
    depth = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=[
            "recipient",
            "node",
            "cycle",
            "inflows",
            "inflow",
            "escrow",
            "people",
            "kept",
            "account",
            "more",
        ],
        help_text=(
            "node: a company or project; cycle: a node met again above (money that went "
            "round a cycle, not split again); inflows/inflow: a company's payments "
            "(with their agreement); escrow: escrow released from earlier runs; people: "
            "people paid by the node above, counted and summed; kept: what the node above "
            "kept; account: an escrow identity (a package, an unverified project); more: "
            "smaller hops summed"
        ),
    )
    key = serializers.CharField(allow_blank=True, help_text="company:, project:, ... key")
    detail = serializers.CharField(allow_blank=True)
    amount = serializers.IntegerField(help_text="minor units of the traced money on this hop")
    split = serializers.BooleanField(help_text="whether hops with this parent add up to amount")
    node_in = serializers.IntegerField(
        allow_null=True, help_text="a node's whole money in the run (= passed on + kept)"
    )
    node_passed = serializers.IntegerField(allow_null=True)
    node_kept = serializers.IntegerField(allow_null=True)
    people = serializers.IntegerField(allow_null=True, help_text="people a people hop sums")


class TraceSourceSerializer(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]
    amount = serializers.IntegerField()


class TraceCurrencySerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.IntegerField(
        help_text="the recipient's allocation (a company's tree: its inflows in the run)"
    )
    sources = TraceSourceSerializer(many=True, help_text="a company's inflows of the run")
    hops = TraceHopSerializer(many=True, help_text="depth first; the first is the root")


class TraceSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    recipient = serializers.CharField()
    direction = serializers.ChoiceField(
        choices=["up", "down"], help_text="up: where a credit came from; down: where it went"
    )
    complete = serializers.BooleanField(
        help_text="false while the run's project-level hops are not published"
    )
    currencies = TraceCurrencySerializer(many=True)


def trace_data(trace: Trace) -> dict[str, Any]:
    return {
        "run": trace.run.pk,
        "recipient": trace.recipient,
        "direction": trace.direction,
        "complete": trace.complete,
        "currencies": [
            {
                "currency": ct.currency,
                "amount": ct.amount,
                "sources": [{"label": label, "amount": v} for label, v in ct.sources],
                "hops": [
                    {
                        "id": hop.id,
                        "parent": hop.parent,
                        "depth": hop.depth,
                        "kind": hop.kind,
                        "key": hop.key,
                        "detail": hop.detail,
                        "amount": hop.amount,
                        "split": hop.split,
                        "node_in": hop.node_in,
                        "node_passed": hop.node_passed,
                        "node_kept": hop.node_kept,
                        "people": hop.people,
                    }
                    for hop in ct.in_order()
                ],
            }
            for ct in trace.currencies
        ],
    }


class TraceView(APIView):
    """The trace of a credit in a done run, hop by hop with amounts that add up exactly: a
    person's (``user:``, ``github:``, ``email:``) only to that person and staff (or anyone,
    when the person made what they received public), else 404; a company's tree of its own
    money to its members and staff, else 404; a project's or a package's to anyone."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[TraceInput], responses={200: TraceSerializer})
    def get(self, request: Request) -> Response:
        serializer = TraceInput(
            data={
                "recipient": request.query_params.get("recipient", ""),
                "run": request.query_params.get("run", ""),
            }
        )
        serializer.is_valid(raise_exception=True)
        recipient = serializer.validated_data["recipient"]
        if not trace_visible_to(recipient=recipient, user=request.user):
            raise Http404("Not found.")  # the same answer as for a recipient without a credit
        run = DistributionRun.objects.filter(
            pk=serializer.validated_data["run"], status=DistributionRun.Status.DONE
        ).first()
        if run is None:
            raise Http404("No done run with this id.")
        return Response(TraceSerializer(trace_data(run_trace(run=run, recipient=recipient))).data)
