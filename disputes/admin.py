"""The ombudsman office in Django admin: a queue, read-only records, and actions.

Nothing here is edited through admin forms. Every change goes through an action page that
asks for a reason and calls a service in :mod:`disputes.services`, which records it in the
audit trail. (The ledger's read-only admin lives in ``payouts/admin.py``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from faiross.kernel.admin_display import money_column, shown_fields
from faiross.kernel.money import money_format
from faiross.kernel.shares import format_percent, millibips_to_percent
from payouts.selectors import recipient_balances
from projects.auth import signed_in_user
from projects.models import Membership, TableVersion

from . import forms, selectors, services
from .forms import service_call
from .models import (
    Appeal,
    AuditEvent,
    Dispute,
    DisputeMessage,
    DisputeParty,
    Evidence,
    Hold,
    HoldMovement,
    InternalNote,
)
from .templatetags.dispute_tags import money


class OmbudsmanOnly:
    """Read-only admin for ombudsmen: no add, no change, no delete through forms."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return selectors.user_is_ombudsman(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.user_is_ombudsman(user=request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(OmbudsmanOnly, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields or [f.name for f in self.model._meta.fields])


class PartyInline(ReadOnlyInline):
    model = DisputeParty
    fields = ["user", "email", "role", "created_at"]


class MessageInline(ReadOnlyInline):
    model = DisputeMessage
    fields = ["created_at", "author", "from_ombudsman", "body"]
    verbose_name_plural = "conversation (seen by the parties)"


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ["created_at", "added_by", "message", "url", "download", "content_type", "size"]

    @admin.display(description="file")
    def download(self, obj: Evidence) -> str:
        if not obj.file:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("disputes:evidence", args=[obj.pk]), obj.filename
        )


class NoteInline(ReadOnlyInline):
    model = InternalNote
    fields = ["created_at", "author", "body"]
    verbose_name_plural = "internal notes (ombudsmen only)"


class HoldInline(ReadOnlyInline):
    model = Hold
    fields = [
        "created_at",
        "recipient",
        "source",
        "held_shown",
        "still_held_shown",
        "currency",
        "status",
        "placed_by",
        "reason",
        "ledger_transaction",
    ]
    held_shown = money_column("amount", description="held")
    still_held_shown = money_column("remaining", description="still held")


class AppealInline(ReadOnlyInline):
    model = Appeal
    fields = [
        "created_at",
        "appellant",
        "reason",
        "assigned_to",
        "decision",
        "decision_text",
        "decided_by",
    ]


class AuditInline(ReadOnlyInline):
    model = AuditEvent
    fk_name = "dispute"
    fields = ["created_at", "actor_name", "action", "target", "reason", "data_shown", "internal"]
    verbose_name_plural = "audit trail (append-only)"

    @admin.display(description="data")
    def data_shown(self, obj: AuditEvent) -> str:
        return audit_data_shown(obj.data)


# Keys of audit data that hold minor units of the record's "currency".
_MONEY_KEYS = {"amount", "amount_at_stake", "still_held", "remaining", "held"}


def audit_data_shown(data: Any) -> str:
    """An audit record's data as people read it: amounts as money of the record's currency,
    shares as percent (the record keeps minor units and millibips, the trail's exact form)."""
    if not isinstance(data, dict):
        return str(data)
    currency = data.get("currency") if isinstance(data.get("currency"), str) else ""

    def shown(key: str, value: Any) -> Any:
        if key in _MONEY_KEYS and isinstance(value, int) and currency:
            return money_format(amount=value, currency=currency)
        if key == "before" and "amount_at_stake" in data and isinstance(value, list):
            amount, before_currency = [*value, None, None][:2]
            if isinstance(amount, int) and before_currency:
                return money_format(amount=amount, currency=before_currency)
            return "—"
        if key == "entries" and isinstance(value, list):
            return ", ".join(
                f"{row[0]} {format_percent(millibips=row[1])}"
                if isinstance(row, list | tuple) and len(row) == 2 and isinstance(row[1], int)
                else str(row)
                for row in value
            )
        if key.endswith("_millibips") and isinstance(value, int):
            return format_percent(millibips=value)
        return value

    return "; ".join(
        f"{key.removesuffix('_millibips').replace('_', ' ')}: {shown(key, value)}"
        for key, value in data.items()
    )


# --- queue filters ------------------------------------------------------------------------


class _BandFilter(admin.SimpleListFilter):
    """A filter by bands of one field: :meth:`bands` maps each choice to its label and its
    range ``[low, high)``, an open end being None."""

    field: str

    def bands(self) -> dict[str, tuple[str, Any, Any]]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, label) for value, (label, _, _) in self.bands().items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        bands = self.bands()
        value = self.value()
        if value not in bands:
            return queryset
        _, low, high = bands[value]
        if low is not None:
            queryset = queryset.filter(**{f"{self.field}__gte": low})
        if high is not None:
            queryset = queryset.filter(**{f"{self.field}__lt": high})
        return queryset


class AgeFilter(_BandFilter):
    title = "age"
    parameter_name = "age"
    field = "created_at"

    def bands(self) -> dict[str, tuple[str, Any, Any]]:
        now = timezone.now()
        days = dt.timedelta(days=1)
        return {
            "1": ("under a day", now - days, None),
            "7": ("1 to 7 days", now - 7 * days, now - days),
            "30": ("7 to 30 days", now - 30 * days, now - 7 * days),
            "old": ("over 30 days", None, now - 30 * days),
        }


class StakeFilter(_BandFilter):
    title = "amount at stake"
    parameter_name = "stake"
    field = "amount_at_stake"

    def bands(self) -> dict[str, tuple[str, Any, Any]]:
        return {
            "none": ("not stated", None, None),
            "lt100": ("under 100", 1, 10_000),
            "lt1k": ("100 to 1,000", 10_000, 100_000),
            "lt10k": ("1,000 to 10,000", 100_000, 1_000_000),
            "ge10k": ("10,000 or more", 1_000_000, None),
        }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "none":
            return queryset.filter(amount_at_stake__isnull=True)
        return super().queryset(request, queryset)


class AssignedFilter(admin.SimpleListFilter):
    title = "assignment"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "assigned to me"), ("none", "unassigned"), ("overdue", "past deadline")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "none":
            return queryset.filter(assigned_to__isnull=True)
        if self.value() == "overdue":
            return queryset.filter(
                deadline__lt=timezone.localdate(), status__in=selectors.ACTIVE_STATUSES
            )
        return queryset


# --- actions ----------------------------------------------------------------------------------


Handler = Callable[[HttpRequest, Dispute, Any, Any], str]
T = TypeVar("T")


def _call(service: Callable[..., T], request: HttpRequest, f: Any, *fields: str, **kw: Any) -> T:
    """Call ``service`` as the signed-in ombudsman with the form's ``fields`` and ``kw``."""
    return service(actor=signed_in_user(request), **{n: f.cleaned_data[n] for n in fields}, **kw)


def _do_assign(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
    assignee = f.assignee_user()
    _call(services.dispute_assign, request, f, "reason", dispute=d, assignee=assignee)
    return f"Assigned to {assignee.get_username() if assignee else 'nobody'}."


def _do_message(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
    services.dispute_respond(dispute=d, author=signed_in_user(request), body=f.cleaned_data["body"])
    return "Message sent to the parties."


def _do_hold(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
    fields = ("recipient", "source", "amount", "currency", "reason")
    h = _call(services.hold_place, request, f, *fields, dispute=d)
    if not h.amount:
        return f"Payouts to {h.recipient} are frozen."
    return f"{money(h.amount, h.currency)} of {h.recipient} is on hold."


def _do_release(request: HttpRequest, d: Dispute, hold: Hold, f: Any) -> str:
    amount = hold.remaining
    _call(services.hold_release, request, f, "reason", hold=hold)
    return f"Released {money(amount, hold.currency)} to {hold.recipient}."


def _do_redirect(request: HttpRequest, d: Dispute, hold: Hold, f: Any) -> str:
    mv = _call(services.hold_redirect, request, f, "to_recipient", "amount", "reason", hold=hold)
    return f"Redirected {money(mv.amount, hold.currency)} to {mv.to_recipient}."


def _do_correct(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
    entries = services.entries_parse(text=f.cleaned_data["entries"])
    version = _call(
        services.table_correct, request, f, "owner_key", "reason", dispute=d, entries=entries
    )
    return f"Version {version.number} of {f.cleaned_data['owner_key']} is active."


def _do_stewards(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
    if d.project is None:
        raise ValidationError({"stewards": "This dispute is not about a project."})
    after = _call(
        services.project_stewards_set,
        request,
        f,
        "former",
        "reason",
        dispute=d,
        project=d.project,
        stewards=f.names(),
    )
    return f"The stewards of {d.project.name} are now: {', '.join(after)}."


def _on_dispute(service: Callable[..., Any], *fields: str, done: str) -> Handler:
    """The handler of an action that calls ``service`` on the dispute with the form's
    ``fields`` and answers ``done``."""

    def handler(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
        _call(service, request, f, *fields, dispute=d)
        return done

    return handler


_do_deadline = _on_dispute(
    services.dispute_deadline_set, "deadline", "reason", done="Deadline set."
)


def _do_stake(request: HttpRequest, d: Dispute, hold: Any, f: Any) -> str:
    d = _call(services.dispute_stake_set, request, f, "amount", "currency", "reason", dispute=d)
    return f"Money at stake set: {money(d.amount_at_stake, d.currency)}."


_do_note = _on_dispute(services.dispute_note_add, "body", done="Internal note added.")
_do_resolve = _on_dispute(
    services.dispute_resolve,
    "outcome",
    "resolution",
    done="Resolved; the resolution was emailed to every party.",
)
_do_decide = _on_dispute(
    services.appeal_decide,
    "decision",
    "outcome",
    "text",
    done="The appeal was decided; the dispute is closed.",
)


# name: (title, form class, handler, needs a hold)
ACTIONS: dict[str, tuple[str, type, Handler, bool]] = {
    "assign": ("Assign", forms.AssignForm, _do_assign, False),
    "deadline": ("Set the deadline", forms.DeadlineForm, _do_deadline, False),
    "stake": ("Set the money at stake", forms.StakeForm, _do_stake, False),
    "note": ("Add an internal note", forms.NoteForm, _do_note, False),
    "message": ("Write to the parties", forms.MessageForm, _do_message, False),
    "hold": ("Hold money", forms.HoldForm, _do_hold, False),
    "release": ("Release a hold", forms.ReleaseForm, _do_release, True),
    "redirect": ("Redirect held money", forms.RedirectForm, _do_redirect, True),
    "correct": ("Correct the share table", forms.CorrectTableForm, _do_correct, False),
    "stewards": ("Transfer ownership / change stewards", forms.StewardsForm, _do_stewards, False),
    "resolve": ("Resolve", forms.ResolveForm, _do_resolve, False),
    "decide": ("Decide the appeal", forms.AppealDecideForm, _do_decide, False),
}


def _initial(action: str, dispute: Dispute, hold: Hold | None) -> dict[str, Any]:

    if action == "assign":
        return {"assignee": str(dispute.assigned_to_id or "")}
    if action == "deadline":
        return {"deadline": dispute.deadline}
    currency = dispute.currency or "usd"
    # Amounts are offered as the ombudsman types them (currency units, their language).
    stake = (
        money_format(amount=dispute.amount_at_stake, currency=currency, symbol=False)
        if dispute.amount_at_stake
        else ""
    )
    if action == "stake":
        return {"amount": stake, "currency": currency}
    if action == "hold":
        return {"recipient": dispute.recipient, "currency": currency, "amount": stake}
    if action == "correct":
        owner = dispute.disputed_table
        version = TableVersion.objects.filter(table__owner_key=owner, status="active").first()
        lines = (
            [
                f"{e.recipient} {millibips_to_percent(millibips=e.millibips)}"
                + (f" {e.note}" if e.note else "")
                for e in version.entries.order_by("position")
            ]
            if version
            else []
        )
        return {"owner_key": owner, "entries": "\n".join(lines)}
    if action == "stewards" and dispute.project_id:
        names = Membership.objects.filter(
            project_id=dispute.project_id, role=Membership.Role.STEWARD
        ).values_list("user__username", flat=True)
        return {"stewards": " ".join(names)}
    return {}


@admin.register(Dispute)
class DisputeAdmin(OmbudsmanOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "kind",
        "status_badge",
        "target_label",
        "stake",
        "age",
        "assigned_to",
        "deadline",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["status", "kind", AgeFilter, StakeFilter, AssignedFilter, "target_type"]
    search_fields = ["title", "description", "target_label", "recipient", "filed_by__username"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    list_select_related = ["assigned_to", "filed_by"]
    change_form_template = "admin/disputes/dispute/change_form.html"
    fieldsets = [
        (None, {"fields": ["title", "kind", "status", "filed_by", "created_at", "description"]}),
        (
            "What it is about",
            {
                "fields": [
                    "target_type",
                    "target_id",
                    "target_label",
                    "project",
                    "table_owner",
                    "recipient",
                    "stake",
                ]
            },
        ),
        ("Case", {"fields": ["assigned_to", "deadline"]}),
        ("Resolution", {"fields": ["outcome", "resolution", "resolved_by", "resolved_at"]}),
    ]
    inlines = [
        PartyInline,
        EvidenceInline,
        MessageInline,
        NoteInline,
        HoldInline,
        AppealInline,
        AuditInline,
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(f.name for f in Dispute._meta.fields), "stake"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dispute]:
        # Conflict of interest: an ombudsman never sees (nor works) a dispute they are in.
        user = request.user
        qs = super().get_queryset(request)
        return qs.exclude(Q(filed_by_id=user.pk) | Q(parties__user_id=user.pk)).distinct()

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Dispute) -> str:
        return obj.get_status_display()

    @admin.display(description="at stake", ordering="amount_at_stake")
    def stake(self, obj: Dispute) -> str:
        return money(obj.amount_at_stake, obj.currency) if obj.amount_at_stake else "—"

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Dispute) -> str:
        days = (timezone.now() - obj.created_at).days
        return f"{days} d"

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/act/<str:action>/",
                wrap(self.action_view),
                name="disputes_dispute_act",
            ),
            path(
                "<int:object_id>/hold/<int:hold_id>/<str:action>/",
                wrap(self.action_view),
                name="disputes_dispute_hold_act",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        dispute = (
            self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        )
        extra = dict(extra_context or {})
        if dispute is not None:
            extra.update(
                {
                    "dispute_actions": self._available(dispute),
                    "dispute_holds": dispute.holds.filter(status=Hold.Status.ACTIVE),
                    "public_url": dispute.get_absolute_url(),
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    def _available(self, dispute: Dispute) -> list[tuple[str, str]]:
        if dispute.status in (Dispute.Status.OPEN, Dispute.Status.IN_REVIEW):
            names = ["assign", "deadline", "stake", "note", "message", "hold"]
            last = "resolve"
        elif dispute.status == Dispute.Status.APPEALED:
            names = ["assign", "note", "message", "hold"]
            last = "decide"
        else:
            names = ["note", "message"] if dispute.status == Dispute.Status.RESOLVED else ["note"]
            return [(n, ACTIONS[n][0]) for n in names]
        if dispute.table_owner or dispute.project_id:
            names.append("correct")
        if dispute.project_id:
            names.append("stewards")
        names.append(last)
        return [(n, ACTIONS[n][0]) for n in names]

    def action_view(
        self, request: HttpRequest, object_id: int, action: str, hold_id: int | None = None
    ) -> HttpResponse:
        if not selectors.user_is_ombudsman(user=request.user):
            raise PermissionDenied("Only staff with the ombudsman permission can act.")
        if action not in ACTIONS:
            raise Http404("No such action.")
        title, form_class, handler, needs_hold = ACTIONS[action]
        dispute = get_object_or_404(self.get_queryset(request), pk=object_id)
        hold = None
        if needs_hold:
            if hold_id is None:
                raise Http404("Choose a hold.")
            hold = get_object_or_404(Hold, pk=hold_id, dispute=dispute)
        elif hold_id is not None:
            raise Http404("No such action.")
        change_url = reverse("admin:disputes_dispute_change", args=[dispute.pk])
        status = 200
        # A redirect is read in its hold's currency, which the ombudsman does not choose.
        kwargs = {"currency": hold.currency} if form_class is forms.RedirectForm and hold else {}
        if request.method == "POST":
            form = form_class(request.POST, **kwargs)
            if form.is_valid():
                message = service_call(
                    form,
                    lambda: handler(request, dispute, hold, form),
                    denied="You may not do this.",
                )
                if message is not None:
                    messages.success(request, message)
                    return HttpResponseRedirect(change_url)
            status = 400
        else:
            form = form_class(initial=_initial(action, dispute, hold), **kwargs)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{title}: dispute #{dispute.pk}",
            "dispute": dispute,
            "hold": hold,
            "form": form,
            "action": action,
            "change_url": change_url,
            "balances": _balances(dispute, hold, action),
        }
        return TemplateResponse(
            request, "admin/disputes/dispute/action.html", context, status=status
        )


def _balances(dispute: Dispute, hold: Hold | None, action: str) -> dict[str, Any] | None:

    recipient = hold.recipient if hold else dispute.recipient
    if action not in ("hold", "release", "redirect") or not recipient:
        return None
    return {"recipient": recipient, "by_currency": recipient_balances(recipient=recipient)}


@admin.register(AuditEvent)
class AuditEventAdmin(OmbudsmanOnly, admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "target", "dispute_link", "internal"]
    list_filter = ["action", "internal"]
    search_fields = ["actor_name", "action", "target", "reason"]
    date_hierarchy = "created_at"
    # Shown as data_shown: money and percent, not the record's minor units and millibips.
    exclude = ["data"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return shown_fields([f.name for f in AuditEvent._meta.fields], data="data_shown")

    @admin.display(description="data")
    def data_shown(self, obj: AuditEvent) -> str:
        return audit_data_shown(obj.data)

    @admin.display(description="dispute")
    def dispute_link(self, obj: AuditEvent) -> str:
        if not obj.dispute_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:disputes_dispute_change", args=[obj.dispute_id]),
            obj.dispute_id,
        )


@admin.register(Hold)
class HoldAdmin(OmbudsmanOnly, admin.ModelAdmin):
    list_display = ["id", "recipient", "held_shown", "still_held_shown", "status", "dispute"]
    list_filter = ["status", "currency", "source"]
    search_fields = ["recipient"]
    # Money as people read it (never minor units), in lists and detail pages.
    exclude = ["amount", "remaining"]
    held_shown = money_column("amount")
    still_held_shown = money_column("remaining", description="still held")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return shown_fields(
            [f.name for f in Hold._meta.fields], amount="held_shown", remaining="still_held_shown"
        )


@admin.register(HoldMovement)
class HoldMovementAdmin(OmbudsmanOnly, admin.ModelAdmin):
    list_display = ["id", "hold", "kind", "amount_shown", "to_recipient", "actor", "created_at"]
    list_filter = ["kind"]
    exclude = ["amount"]

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj: HoldMovement) -> str:
        return money(obj.amount, obj.hold.currency)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return shown_fields([f.name for f in HoldMovement._meta.fields], amount="amount_shown")
