"""The office's corrections on an owner's behalf: a new share-table version, and the
project's stewards (transfer of ownership or a change of stewards)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from companies.models import Company
from faiross.kernel.recipients import project_key
from faiross.kernel.shares import millibips_to_percent, percent_to_millibips
from projects.models import Membership, Project, TableVersion
from projects.notifications import DISPUTE_UPDATE
from projects.services.tables import EntryInput, table_propose

from .. import selectors
from ..models import Dispute
from ._common import _acting, _link, _notify_parties, _record_action, _send_later


def _notify_owners(
    dispute: Dispute, *, subject: str, short: str, body: str, addresses: Sequence[str]
) -> None:
    """Mail ``addresses`` (the owner's people) that are not parties, with a link to the
    dispute, then the parties."""
    parties = selectors.party_emails(dispute=dispute)
    _send_later(
        f"{subject} (dispute #{dispute.pk})",
        f"{body}\n\nDispute: {_link(dispute)}\n",
        [a for a in addresses if a not in parties],
        kind=DISPUTE_UPDATE,
    )
    _notify_parties(dispute, short, body)


def entries_parse(*, text: str) -> list[EntryInput]:
    """Rows ``<recipient> <share in percent> [note]``, one per line (blank lines and #
    ignored); the share is read in the active language (``12.5``; ``12,5`` in German) into
    millibips, exactly. Every bad line is named."""
    entries: list[EntryInput] = []
    errors: list[str] = []
    example = millibips_to_percent(millibips=2_500_000)
    for i, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            errors.append(
                f"line {i}: write '<recipient> <share in %> [note]', e.g. 'user:bob {example}' "
                f"for {example}%."
            )
            continue
        try:
            millibips = percent_to_millibips(text=parts[1], field="entries")
        except ValidationError as exc:
            errors.extend(f"line {i}: {m}" for m in exc.message_dict["entries"])
            continue
        entries.append(EntryInput(parts[0], millibips, parts[2] if len(parts) > 2 else ""))
    if errors:
        raise ValidationError({"entries": errors})
    return entries


def _check_table_owner(owner_key: str) -> None:
    if not owner_key:
        raise ValidationError({"owner_key": "This dispute is not about a share table."})
    kind, _, ident = owner_key.partition(":")
    exists = (kind == "project" and Project.objects.filter(slug=ident).exists()) or (
        kind == "company" and Company.objects.filter(slug=ident).exists()
    )
    if not exists:
        raise ValidationError(
            {
                "owner_key": f"'{owner_key[:130]}' is not the table of an existing project "
                "(project:<slug>) or company (company:<slug>)."
            }
        )


@transaction.atomic
def table_correct(
    *,
    dispute: Dispute,
    actor: User,
    entries: Sequence[EntryInput],
    reason: str,
    owner_key: str = "",
) -> Any:
    """Create and activate a new version of the disputed table on its owner's behalf,
    marked ``ombudsman:dispute-<id>``; the stewards and parties are emailed.

    Every table rule holds as for any version (sum ≤ 100%, recipients exist, no closed
    cycle); a refused table changes nothing.
    """
    dispute, reason = _acting(dispute, actor, reason)
    owner_key = owner_key or dispute.disputed_table
    _check_table_owner(owner_key)
    before = list(
        TableVersion.objects.filter(table__owner_key=owner_key, status="active").values_list(
            "number", flat=True
        )
    )
    version = table_propose(
        owner_key=owner_key,
        actor=actor,
        entries=list(entries),
        source=f"ombudsman:dispute-{dispute.pk}",
        note=f"Ombudsman correction for dispute #{dispute.pk}: {reason}"[:500],
        ombudsman=True,
    )
    _record_action(
        dispute,
        actor,
        "table.correct",
        target=f"table:{owner_key}",
        reason=reason,
        data={
            "version": version.number,
            "version_id": version.pk,
            "replaced_version": before[0] if before else None,
            "entries": [[e.recipient, e.millibips] for e in version.entries.order_by("position")],
            "reserve_millibips": version.reserve_millibips,
        },
    )
    stewards = [
        p.user.email
        for p in selectors.parties_of_recipient(recipient=owner_key, role="steward")
        if p.user is not None and p.user.email
    ]
    _notify_owners(
        dispute,
        subject=f"Share table of {owner_key} corrected",
        short="share table corrected",
        body=f"The ombudsman office corrected the share table of {owner_key}: version "
        f"{version.number} is now active.\n\nReason: {reason}",
        addresses=stewards,
    )
    return version


def _active_users(stewards: Sequence[str]) -> tuple[list[str], dict[str, User]]:
    """The named stewards (each once, in order) and their active accounts; refuses names
    without one."""
    names = list(dict.fromkeys(s.strip() for s in stewards if s and s.strip()))
    if not names:
        raise ValidationError({"stewards": "Name at least one steward: a project keeps one."})
    if len(names) > 20:
        raise ValidationError({"stewards": "Name at most 20 stewards."})
    users = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    missing = [n for n in names if n not in users]
    if missing:
        raise ValidationError(
            {"stewards": [f"There is no active FairOSS user '{n}'." for n in missing]}
        )
    return names, users


def _memberships_set(project: Project, stewards: Sequence[User], former: str) -> list[str]:
    """Make ``stewards`` the only stewards of ``project``; returns the former stewards'
    usernames (sorted)."""
    rows = list(Membership.objects.select_for_update().filter(project=project).order_by("pk"))
    before = sorted(m.user.username for m in rows if m.role == Membership.Role.STEWARD)
    wanted = {u.pk for u in stewards}
    for m in rows:
        if m.role == Membership.Role.STEWARD and m.user_id not in wanted:
            if former == "remove":
                m.delete()
            else:
                m.role = Membership.Role.MAINTAINER
                m.save(update_fields=["role"])
    by_user = {m.user_id: m for m in rows}
    for user in stewards:
        membership = by_user.get(user.pk)
        if membership is None:
            Membership.objects.create(project=project, user=user, role=Membership.Role.STEWARD)
        elif membership.role != Membership.Role.STEWARD:
            membership.role = Membership.Role.STEWARD
            membership.save(update_fields=["role"])
    return before


@transaction.atomic
def project_stewards_set(
    *,
    dispute: Dispute,
    actor: User,
    project: Project,
    stewards: Sequence[str],
    reason: str,
    former: str = "maintainer",
) -> list[str]:
    """Make exactly ``stewards`` (usernames) the project's stewards: transfer of ownership
    or a change of stewards. Former stewards become maintainers (``former="maintainer"``)
    or leave (``"remove"``). An unclaimed project becomes claimed.

    Invariant: the project keeps at least one steward.
    """
    dispute, reason = _acting(dispute, actor, reason)
    if former not in ("maintainer", "remove"):
        raise ValidationError({"former": "Choose 'maintainer' or 'remove'."})
    names, users = _active_users(stewards)
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = _memberships_set(project, [users[n] for n in names], former)
    claimed = False
    if project.status == Project.Status.UNCLAIMED:
        project.status = Project.Status.CLAIMED
        project.save(update_fields=["status"])
        claimed = True
    after = sorted(names)
    _record_action(
        dispute,
        actor,
        "project.stewards",
        target=project_key(project.slug),
        reason=reason,
        data={"before": before, "after": after, "former": former, "claimed": claimed},
    )
    old_and_new = [u.email for u in User.objects.filter(username__in=[*before, *after]) if u.email]
    _notify_owners(
        dispute,
        subject=f"Stewards of {project.name} changed",
        short="stewards changed",
        body=f"The ombudsman office changed the stewards of {project.name}: "
        f"{', '.join(before) or 'none'} → {', '.join(after)}.\n\nReason: {reason}",
        addresses=old_and_new,
    )
    return after
