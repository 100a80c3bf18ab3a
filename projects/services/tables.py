"""Share tables: proposals, approvals, activation, imports and unclaimed placeholders.

A table change is always a new :class:`TableVersion`. Rules every function keeps:

- entries are positive integer millibips summing to at most 10,000,000; the rest is the
  owner's reserve; recipients are valid, exist (``project:``/``user:``), are not the owner
  itself and are not repeated; at most ``MAX_ENTRIES`` rows;
- a ``purl:`` recipient becomes the ``project:`` of the project that lists that purl,
  created as an *unclaimed* placeholder when no project does;
- only one version per table is active (row lock on the table plus a partial unique index);
- no activation may close a cycle (a set of projects sending all their money to each other);
- a row naming a masked address (``email:z***@example.org``, as it is shown to all but staff
  and the address's owner) keeps the address of the entry it was shown from, and no message
  spells that address.

Errors are ``ValidationError({"entries": [...]})`` whose messages name the row and the rule,
or ``PermissionDenied``; either way nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from faiross.kernel.allocation import allocate
from faiross.kernel.recipients import (
    RecipientError,
    is_masked_email,
    parse_recipient,
    project_key,
    purl_key,
    recipient_display,
    recipient_split,
)
from faiross.kernel.shares import FULL_SHARE, format_percent

from ..cycles import find_closed_cycle
from ..models import (
    Approval,
    KnownDependency,
    Membership,
    Project,
    ProjectPurl,
    RecipientKey,
    ShareTable,
    TableEntry,
    TableVersion,
)
from ..notifications import (
    table_activation_notify,
    table_proposal_notify,
    table_withdrawal_notify,
)
from ..purls import PurlError, purl_normalize, purl_project
from ..tables_registry import table_owner_policies
from ..webhooks.emitters import table_activated_emit

MAX_ENTRIES = 500


class TableError(ValidationError):
    """A table that breaks a rule; ``message_dict["entries"]`` lists each problem."""


@dataclass(frozen=True)
class EntryInput:
    recipient: str
    millibips: int
    note: str = ""
    # The entry of this table a row was shown from (the editor's and the API's reference). A
    # proposer who may not read an email recipient sees it masked (``email:z***@example.org``,
    # money rule 9) and sends the mask back; the row then keeps that entry's address.
    entry_id: int | None = None


@dataclass(frozen=True)
class TableRoles:
    can_propose: bool
    can_approve: bool
    approvers: int


# --- owners and roles -----------------------------------------------------------------


def owner_key_for_project(project: Project) -> str:
    return project_key(project.slug)


def project_table_roles(*, slug: str, user: User | AnonymousUser) -> tuple[bool, bool, int]:
    """(can propose, can approve, approvers) on a project's table: members propose,
    stewards approve."""
    stewards = Membership.objects.filter(project__slug=slug, role=Membership.Role.STEWARD)
    approvers = stewards.count()
    if not user.is_authenticated:
        return False, False, approvers
    role = (
        Membership.objects.filter(project__slug=slug, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return role is not None, role == Membership.Role.STEWARD, approvers


def table_roles(*, owner_key: str, user: User | AnonymousUser) -> TableRoles:
    """Who may propose and approve on a table: the owner kind's registered policy decides."""
    kind, _, ident = owner_key.partition(":")
    policy = table_owner_policies.find(kind)
    if policy is None:
        raise ValueError(f"unknown table owner {owner_key!r}")
    return TableRoles(*policy(slug=ident, user=user))


def quorum_needed(*, table: ShareTable, approvers: int) -> int:
    """Approvals needed: the table's quorum, else a majority; never more than there are."""
    needed = table.quorum if table.quorum else approvers // 2 + 1
    return max(1, min(needed, max(approvers, 1)))


def table_for_owner(*, owner_key: str) -> ShareTable:
    table, _ = ShareTable.objects.get_or_create(owner_key=owner_key)
    return table


# --- placeholders -----------------------------------------------------------------------

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def _placeholder_slug(purl: str) -> str:
    body = purl.removeprefix("pkg:").replace("%40", "")
    base = _SLUG_JUNK.sub("-", body.lower()).strip("-")[:44].strip("-") or "package"
    slug = base
    n = 2
    while Project.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def placeholder_project_for_purl(*, purl: str) -> Project:
    """The project that lists ``purl``, created as an unclaimed placeholder if none does.

    Precondition: ``purl`` is already normalised (:func:`projects.purls.purl_normalize`).
    """
    existing = purl_project(purl=purl)  # the verified owner first
    if existing is not None:
        return existing
    name = purl.removeprefix("pkg:").split("/", 1)[-1].replace("%40", "@")
    project = Project.objects.create(
        slug=_placeholder_slug(purl),
        name=name[:120],
        status=Project.Status.UNCLAIMED,
        description=f"Placeholder for {purl}, created when a share table named it. "
        "Its maintainers can claim it.",
    )
    ProjectPurl.objects.create(project=project, purl=purl)
    return project


# --- entries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedEntry:
    recipient: str
    millibips: int
    project: Project | None
    note: str


def entries_from_rows(rows: Sequence[object]) -> list[EntryInput]:
    """Turn API/JSON rows (``{"recipient", "millibips", "note"?}``) into inputs.

    Wrong shapes are reported per row, so a client learns every problem in one answer.
    """
    if not isinstance(rows, list):
        raise TableError({"entries": ["'entries' must be a list of {recipient, millibips}."]})
    errors: list[str] = []
    out: list[EntryInput] = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            errors.append(f"row {i}: must be an object with 'recipient' and 'millibips'.")
            continue
        unknown = set(row) - {"recipient", "millibips", "note"}
        if unknown:
            errors.append(f"row {i}: unknown field(s) {', '.join(sorted(map(str, unknown)))}.")
        recipient, millibips, note = row.get("recipient"), row.get("millibips"), row.get("note", "")
        if not isinstance(recipient, str):
            errors.append(f"row {i}: 'recipient' must be a string such as 'project:numpy'.")
            continue
        if isinstance(millibips, bool) or not isinstance(millibips, int):
            errors.append(
                f"row {i} ({recipient}): 'millibips' must be a whole number (10,000,000 = 100%)."
            )
            continue
        if not isinstance(note, str):
            errors.append(f"row {i} ({recipient}): 'note' must be a string.")
            continue
        out.append(EntryInput(recipient=recipient, millibips=millibips, note=note))
    if errors:
        raise TableError({"entries": errors})
    return out


def _is_masked_recipient(recipient: str) -> bool:
    kind, _, identifier = recipient.partition(":")
    return kind == "email" and is_masked_email(identifier)


def _masked_rows_resolve(
    *, table: ShareTable | None, entries: Sequence[EntryInput]
) -> tuple[dict[int, str], dict[int, str]]:
    """The stored recipient of each row (by row number, from 1) that names a masked address,
    and why the others cannot be resolved.

    A masked address (``email:z***@example.org``) names nobody by itself: it stands for the
    entry of this table it was shown from, the row's ``entry_id`` (an entry of any version of
    ``table``), else the one entry of the active version shown that way. Messages never
    spell an address beyond its mask, so editing a table teaches nobody an address.
    """
    masked = [(i, e) for i, e in enumerate(entries, start=1) if _is_masked_recipient(e.recipient)]
    if not masked:
        return {}, {}
    by_id: dict[int, str] = {}
    active: list[str] = []
    if table is not None:
        ids = {e.entry_id for _, e in masked if e.entry_id is not None}
        by_id = dict(
            TableEntry.objects.filter(version__table=table, pk__in=ids).values_list(
                "pk", "recipient"
            )
        )
        active = list(
            TableEntry.objects.filter(version_id=table.active_version_id).values_list(
                "recipient", flat=True
            )
        )
    kept: dict[int, str] = {}
    problems: dict[int, str] = {}
    for i, entry in masked:
        if entry.entry_id is not None:
            stored = by_id.get(entry.entry_id)
            candidates = [stored] if stored is not None else []
        else:
            candidates = active
        same = [r for r in candidates if recipient_display(r, reveal=False) == entry.recipient]
        label = f"row {i} ({entry.recipient})"
        if len(same) == 1:
            kept[i] = same[0]
        elif not same:
            problems[i] = (
                f"{label}: this is a hidden address (pages, the API and faiross.toml show "
                "addresses masked) that is not one of this table's entries; keep the row as "
                "the table showed it, or write the full address."
            )
        else:
            problems[i] = (
                f"{label}: more than one entry of the table is shown as {entry.recipient}; "
                "send the row with the entry_id the table showed, or write the full address."
            )
    return kept, problems


def _resolve_entries(
    *, owner_key: str, entries: Sequence[EntryInput], table: ShareTable | None = None
) -> list[ResolvedEntry]:
    """Check and resolve the rows of a proposal; see the module docstring for the rules.

    A row that names a masked address keeps the address of the entry of ``table`` it was
    shown from (:func:`_masked_rows_resolve`); its messages name it by the mask only.
    """
    errors: list[str] = []
    if len(entries) > MAX_ENTRIES:
        raise TableError(
            {
                "entries": [
                    f"A table may have at most {MAX_ENTRIES} rows; this one has {len(entries)}."
                ]
            }
        )
    resolved: list[ResolvedEntry] = []
    seen: dict[str, int] = {}
    total = 0
    kept, hidden = _masked_rows_resolve(table=table, entries=entries)
    for i, entry in enumerate(entries, start=1):
        label = f"row {i} ({entry.recipient})"
        m = entry.millibips
        if isinstance(m, bool) or not isinstance(m, int):
            # Only the API can send a share that is not an int; its field is in millibips.
            errors.append(f"{label}: millibips must be a whole number (10,000,000 = 100%).")
            continue
        if m <= 0:
            # The editor, the imports and the API all reach these: said in percent.
            errors.append(
                f"{label}: the share must be positive (above 0%); remove the row instead."
            )
            continue
        if m > FULL_SHARE:
            errors.append(f"{label}: {format_percent(millibips=m)} is more than 100%.")
            continue
        if len(entry.note) > 200:
            errors.append(f"{label}: a note may be at most 200 characters.")
            continue
        if i in hidden:
            errors.append(hidden[i])
            continue
        try:
            kind, ident = parse_recipient(kept.get(i, entry.recipient))
        except RecipientError as exc:
            # A kept address is never spelled out, not even in a message about it.
            errors.append(
                f"{label}: not a valid address" if i in kept else f"row {i}: {exc.message}"
            )
            continue
        project: Project | None = None
        recipient = f"{kind}:{ident}"
        if kind == "purl":
            try:
                purl = purl_normalize(value=ident)
            except PurlError as exc:
                errors.append(f"{label}: {exc}")
                continue
            project = placeholder_project_for_purl(purl=purl)
            recipient = project_key(project.slug)
        elif kind == "project":
            project = Project.objects.filter(slug=ident).first()
            if project is None:
                errors.append(
                    f"{label}: there is no project '{ident}'; name a package as "
                    "purl:pkg:... to add an unclaimed one."
                )
                continue
        elif kind == "user" and not User.objects.filter(username=ident).exists():
            errors.append(
                f"{label}: there is no FairOSS user '{ident}'; use github:<login> or "
                "email:<address> for someone not yet on FairOSS."
            )
            continue
        if recipient == owner_key:
            errors.append(f"{label}: a table cannot name its own owner; that share is the reserve.")
            continue
        if recipient in seen:
            shown = entry.recipient if i in kept else recipient
            errors.append(f"{label}: {shown} is already in row {seen[recipient]}; merge the rows.")
            continue
        seen[recipient] = i
        total += m
        resolved.append(ResolvedEntry(recipient, m, project, entry.note))
    if total > FULL_SHARE:
        errors.append(f"The rows add up to {format_percent(millibips=total)}, more than 100%.")
    if errors:
        raise TableError({"entries": errors})
    return resolved


# --- the graph check ------------------------------------------------------------------


def default_table_entries(
    *, project: Project, at: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """The documented default table of a project that declared none.

    ``FAIROSS_DEFAULT_DEPENDENCY_SHARE`` millibips are split evenly (largest remainder) over
    the project's known dependencies; the rest is the project's reserve (escrow for an
    unclaimed project, until it is claimed).
    """
    known = KnownDependency.objects.filter(project=project)
    if at is not None:
        known = known.filter(created_at__lte=at)
    deps = list(known.order_by("dependency__slug").values_list("dependency__slug", flat=True))
    if not deps:
        return []
    share = settings.FAIROSS_DEFAULT_DEPENDENCY_SHARE
    parts = allocate(total=share, weights=[1] * len(deps))
    return [(project_key(slug), part) for slug, part in zip(deps, parts, strict=True) if part > 0]


def _project_edges(slugs: set[str]) -> dict[str, dict[str, int]]:
    """Project-to-project edges of the tables that move money now (active or default)."""
    edges: dict[str, dict[str, int]] = {s: {} for s in slugs}
    keys = [project_key(s) for s in slugs]
    active = (
        TableEntry.objects.filter(
            version__status=TableVersion.Status.ACTIVE, version__table__owner_key__in=keys
        )
        .filter(recipient__startswith="project:")
        .values_list("version__table__owner_key", "recipient", "millibips")
    )
    with_table = set(
        TableVersion.objects.filter(
            status=TableVersion.Status.ACTIVE, table__owner_key__in=keys
        ).values_list("table__owner_key", flat=True)
    )
    for owner, recipient, m in active:
        edges[recipient_split(owner)[1]][recipient_split(recipient)[1]] = m
    for slug in slugs:
        if project_key(slug) not in with_table:
            project = Project.objects.filter(slug=slug).first()
            if project is not None:
                for recipient, m in default_table_entries(project=project):
                    edges[slug][recipient_split(recipient)[1]] = m
    return edges


def check_no_closed_cycle(*, owner_key: str, entries: Sequence[ResolvedEntry]) -> None:
    """Refuse entries whose activation would let money circle forever without reaching a
    person or a reserve. Only the part of the graph reachable from the owner can close."""
    if not owner_key.startswith("project:"):
        # A company is never named by a table, so no cycle can pass through it.
        return
    own = recipient_split(owner_key)[1]
    graph: dict[str, dict[str, int]] = {
        own: {
            recipient_split(e.recipient)[1]: e.millibips for e in entries if e.project is not None
        }
    }
    frontier = set(graph[own]) - {own}
    while frontier:
        loaded = _project_edges(frontier)
        graph.update(loaded)
        frontier = {t for targets in loaded.values() for t in targets} - set(graph)
    closed = find_closed_cycle(edges=graph)
    if closed:
        names = " → ".join([*closed, closed[0]])
        raise TableError(
            {
                "entries": [
                    f"This table would close a cycle: {names} send all of their money to each "
                    "other, so it could never reach a person or a reserve. Keep a reserve or "
                    "a person's share in one of them."
                ]
            }
        )


# --- versions ---------------------------------------------------------------------------


def recipient_keys_get_or_create(*, keys: Sequence[str]) -> dict[str, int]:
    """Integer ids for recipient strings, creating the missing ones."""
    wanted = set(keys)
    found = dict(RecipientKey.objects.filter(key__in=wanted).values_list("key", "pk"))
    missing = wanted - set(found)
    if missing:
        RecipientKey.objects.bulk_create(
            [RecipientKey(key=k) for k in sorted(missing)], ignore_conflicts=True
        )
        found.update(RecipientKey.objects.filter(key__in=missing).values_list("key", "pk"))
    return found


def _activate(
    *, table: ShareTable, version: TableVersion, entries: Sequence[ResolvedEntry]
) -> None:
    """Precondition: ``table`` is locked by this transaction."""
    check_no_closed_cycle(owner_key=table.owner_key, entries=entries)
    previous_id = table.active_version_id
    now = timezone.now()
    TableVersion.objects.filter(table=table, status=TableVersion.Status.ACTIVE).update(
        status=TableVersion.Status.SUPERSEDED, superseded_at=now
    )
    version.status = TableVersion.Status.ACTIVE
    version.activated_at = now
    version.save(update_fields=["status", "activated_at"])
    table.active_version = version
    table.save(update_fields=["active_version"])
    table_activated_emit(table=table, version=version, entries=entries)
    table_activation_notify(version=version, entries=entries, previous_version_id=previous_id)


def _resolved_of(version: TableVersion) -> list[ResolvedEntry]:
    return [
        ResolvedEntry(e.recipient, e.millibips, e.project, e.note)
        for e in version.entries.select_related("project").order_by("position")
    ]


def _maybe_activate(*, table: ShareTable, version: TableVersion, approvers: int) -> None:
    if version.approvals.count() >= quorum_needed(table=table, approvers=approvers):
        _activate(table=table, version=version, entries=_resolved_of(version))


def _market_entries_unchanged(*, table: ShareTable, entries: Sequence[ResolvedEntry]) -> None:
    """Investors' units are sold, not edited: refuse a proposal that adds, changes or drops
    a ``market:`` entry."""
    active: dict[str, int] = {}
    if table.active_version_id:
        active = dict(
            TableEntry.objects.filter(
                version_id=table.active_version_id, recipient__startswith="market:"
            ).values_list("recipient", "millibips")
        )
    proposed = {e.recipient: e.millibips for e in entries if e.recipient.startswith("market:")}
    if proposed != active:
        raise TableError(
            {
                "entries": [
                    "market: entries are the units investors bought; they change only when an "
                    "offering closes. Keep them as they are."
                ]
            }
        )


@transaction.atomic
def table_propose(
    *,
    owner_key: str,
    actor: User,
    entries: Sequence[EntryInput],
    source: str = "editor",
    note: str = "",
    ombudsman: bool = False,
    market_close: bool = False,
) -> TableVersion:
    """Store a new version; it is active at once when the proposer's approval meets quorum.

    ``market:<TICKER>`` entries (units sold to investors) are written only by an offering's
    close (``market_close``, which the market app passes); every other proposal must keep them
    exactly as the active version has them.

    Preconditions: ``actor`` may propose on this table (members of a project), unless
    ``ombudsman`` is set (an ombudsman correction activates directly).
    Invariants: see the module docstring. On any error nothing is stored, not even
    placeholder projects.
    """
    roles = table_roles(owner_key=owner_key, user=actor)
    if not (roles.can_propose or ombudsman):
        raise PermissionDenied("Only the owner's stewards and maintainers can propose a table.")
    table = table_for_owner(owner_key=owner_key)
    table = ShareTable.objects.select_for_update().get(pk=table.pk)
    resolved = _resolve_entries(owner_key=owner_key, entries=entries, table=table)
    if not market_close:
        _market_entries_unchanged(table=table, entries=resolved)
    check_no_closed_cycle(owner_key=owner_key, entries=resolved)
    number = (table.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = TableVersion.objects.create(
        table=table,
        number=number,
        reserve_millibips=FULL_SHARE - sum(e.millibips for e in resolved),
        source=source[:60],
        note=(note or "")[:500],
        proposed_by=actor,
    )
    key_ids = recipient_keys_get_or_create(keys=[e.recipient for e in resolved])
    TableEntry.objects.bulk_create(
        [
            TableEntry(
                version=version,
                position=i,
                recipient=e.recipient,
                recipient_key_id=key_ids[e.recipient],
                millibips=e.millibips,
                project=e.project,
                note=e.note,
            )
            for i, e in enumerate(resolved)
        ]
    )
    if ombudsman:
        _activate(table=table, version=version, entries=resolved)
    elif roles.can_approve:
        Approval.objects.create(version=version, user=actor)
        _maybe_activate(table=table, version=version, approvers=roles.approvers)
    if version.status == TableVersion.Status.PROPOSED:
        table_proposal_notify(version=version, proposer=actor)  # emails, sent after commit
    return version


@transaction.atomic
def table_version_approve(*, version: TableVersion, actor: User) -> TableVersion:
    """Approve a proposed version; activates it when approvals meet the quorum.

    Locks the table row first, so concurrent approvals of two versions serialise and at
    most one becomes active at a time.
    """
    table = ShareTable.objects.select_for_update().get(pk=version.table_id)
    version = TableVersion.objects.get(pk=version.pk)
    roles = table_roles(owner_key=table.owner_key, user=actor)
    if not roles.can_approve:
        raise PermissionDenied("Only stewards can approve a table version.")
    if version.status != TableVersion.Status.PROPOSED:
        raise ValidationError(
            {"version": f"Version {version.number} is {version.status}, not proposed."}
        )
    if version.approvals.filter(user=actor).exists():
        raise ValidationError({"version": f"You have already approved version {version.number}."})
    Approval.objects.create(version=version, user=actor)
    _maybe_activate(table=table, version=version, approvers=roles.approvers)
    version.refresh_from_db()
    return version


@transaction.atomic
def table_version_withdraw(*, version: TableVersion, actor: User) -> TableVersion:
    """Withdraw a proposed version (its proposer or a steward); history keeps it."""
    table = ShareTable.objects.select_for_update().get(pk=version.table_id)
    version = TableVersion.objects.get(pk=version.pk)
    roles = table_roles(owner_key=table.owner_key, user=actor)
    if not (roles.can_approve or version.proposed_by_id == actor.pk):
        raise PermissionDenied("Only the proposer or a steward can withdraw a proposal.")
    if version.status != TableVersion.Status.PROPOSED:
        raise ValidationError(
            {"version": f"Version {version.number} is {version.status}, not proposed."}
        )
    version.status = TableVersion.Status.WITHDRAWN
    version.save(update_fields=["status"])
    table_withdrawal_notify(version=version, actor=actor)
    return version


@transaction.atomic
def table_set_quorum(*, owner_key: str, actor: User, quorum: int | None) -> ShareTable:
    """Set how many approvals a version needs (None: a majority of the approvers)."""
    roles = table_roles(owner_key=owner_key, user=actor)
    if not roles.can_approve:
        raise PermissionDenied("Only stewards can change the quorum.")
    if quorum is not None and (
        isinstance(quorum, bool)
        or not isinstance(quorum, int)
        or not 1 <= quorum <= roles.approvers
    ):
        raise ValidationError(
            {
                "quorum": f"The quorum must be between 1 and {roles.approvers} "
                "(the number of stewards)."
            }
        )
    table = ShareTable.objects.select_for_update().get(pk=table_for_owner(owner_key=owner_key).pk)
    table.quorum = quorum
    table.save(update_fields=["quorum"])
    return table


# --- files ------------------------------------------------------------------------------


def table_entries_from_toml(*, owner_key: str, text: str) -> tuple[list[EntryInput], str]:
    """Parse a faiross.toml; returns entries and a warning about another owner, if any."""
    from ..faiross_toml import TableFileError, table_from_toml

    try:
        parsed = table_from_toml(text=text)
    except TableFileError as exc:
        raise TableError(
            {"file": [f"{where}: {message}" for where, message in exc.errors]}
        ) from None
    warning = ""
    if parsed.owner and parsed.owner != owner_key:
        warning = f"The file names owner {parsed.owner}; it was imported into {owner_key}."
    return [EntryInput(r, m, parsed.notes.get(r, "")) for r, m in parsed.entries], warning


def manifest_dependency_rows(
    *,
    owner_key: str,
    filename: str,
    content: bytes,
    share_millibips: int,
    policy: str,
) -> tuple[list[EntryInput], list[str]]:
    """Dependency rows for a manifest/SBOM: ``share_millibips`` split by ``policy``.

    Returns purl recipients (resolved to projects when the rows are proposed) and warnings.
    """
    from ..importers import (
        SHARE_POLICIES,
        ImportFileError,
        parse_dependency_file,
        split_dependency_share,
    )

    if policy not in SHARE_POLICIES:
        raise ValidationError({"policy": f"Choose one of: {', '.join(SHARE_POLICIES)}."})
    if (
        isinstance(share_millibips, bool)
        or not isinstance(share_millibips, int)
        or not (0 <= share_millibips <= FULL_SHARE)
    ):
        raise ValidationError(
            {
                "share_millibips": "Give the dependencies' share as a whole number of millibips "
                "from 0 to 10,000,000 (0% to 100%)."
            }
        )
    try:
        result = parse_dependency_file(filename=filename, content=content)
    except ImportFileError as exc:
        raise ValidationError({"file": [exc.message]}) from None
    own_purls = set()
    if owner_key.startswith("project:"):
        own_purls = set(
            ProjectPurl.objects.filter(project__slug=recipient_split(owner_key)[1]).values_list(
                "purl", flat=True
            )
        )
    deps = [d for d in result.dependencies if d.purl not in own_purls]
    parts = split_dependency_share(
        total_millibips=share_millibips, dependencies=deps, policy=policy
    )
    rows = [
        EntryInput(recipient=purl_key(d.purl), millibips=part, note=f"{d.kind} dependency")
        for d, part in zip(deps, parts, strict=True)
        if part > 0
    ]
    return rows, list(result.warnings)


@transaction.atomic
def known_dependencies_record(*, project: Project, rows: Sequence[EntryInput]) -> int:
    """Remember a project's dependencies (for its default table), creating placeholders."""
    count = 0
    for row in rows:
        purl = purl_normalize(value=row.recipient.removeprefix("purl:"))
        dep = placeholder_project_for_purl(purl=purl)
        if dep.pk == project.pk:
            continue
        _, created = KnownDependency.objects.get_or_create(
            project=project, dependency=dep, defaults={"kind": row.note.split(" ", 1)[0][:12]}
        )
        count += int(created)
    return count


def manifest_rows_fit(
    *, people: Sequence[EntryInput], rows: Sequence[EntryInput]
) -> tuple[list[EntryInput], str]:
    """Fit dependency rows beside the ``people`` rows into a table of ``MAX_ENTRIES`` rows.

    From a longer list the dependencies with the largest parts are kept and their whole share
    is split over the kept ones by the same weights (so the dependency share is unchanged);
    returns the rows and a warning saying what was left out ("" when everything fits).
    """
    from ..importers import dependency_rows_fit

    room = max(MAX_ENTRIES - len(people), 0)
    if len(rows) <= room:
        return list(rows), ""
    kept, parts = dependency_rows_fit(
        total_millibips=sum(r.millibips for r in rows),
        weights=[r.millibips for r in rows],
        limit=room,
    )
    warning = (
        f"A table has at most {MAX_ENTRIES} rows, so the {len(kept)} dependencies with the "
        f"largest parts are kept ({len(people)} people rows stay) and the "
        f"{len(rows) - len(kept)} others are left out; the dependency share is split over "
        "the ones kept."
    )
    fitted = [
        EntryInput(recipient=rows[i].recipient, millibips=part, note=rows[i].note)
        for i, part in zip(kept, parts, strict=True)
    ]
    return fitted, warning


@transaction.atomic
def table_import_file(
    *,
    owner_key: str,
    actor: User,
    filename: str,
    content: bytes,
    share_millibips: int = 5_000_000,
    policy: str = "even",
) -> tuple[TableVersion, list[str]]:
    """Import an uploaded file as a proposed version.

    ``faiross.toml`` becomes exactly its table. A manifest or SBOM replaces the table's
    project rows by its dependencies (``share_millibips`` split by ``policy``) and keeps
    the people rows of the active version.
    """
    from ..importers import MAX_FILE_BYTES

    if len(content) > MAX_FILE_BYTES:
        raise ValidationError(
            {"file": [f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB."]}
        )
    roles = table_roles(owner_key=owner_key, user=actor)
    if not roles.can_propose:
        raise PermissionDenied("Only the owner's members can import a table.")
    name = filename.rsplit("/", 1)[-1].lower()
    if name.endswith("faiross.toml") or name == "faiross.toml":
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"file": ["faiross.toml must be UTF-8 text."]}) from None
        entries, warning = table_entries_from_toml(owner_key=owner_key, text=text)
        version = table_propose(
            owner_key=owner_key, actor=actor, entries=entries, source="import:faiross.toml"
        )
        return version, [warning] if warning else []
    rows, warnings = manifest_dependency_rows(
        owner_key=owner_key,
        filename=filename,
        content=content,
        share_millibips=share_millibips,
        policy=policy,
    )
    table = table_for_owner(owner_key=owner_key)
    people: list[EntryInput] = []
    if table.active_version_id:
        people = [
            EntryInput(e.recipient, e.millibips, e.note)
            for e in table.active_version.entries.order_by("position")  # type: ignore[union-attr]
            if not e.recipient.startswith("project:")
        ]
    rows, fit_warning = manifest_rows_fit(people=people, rows=rows)
    if fit_warning:
        warnings = [fit_warning, *warnings]
    version = table_propose(
        owner_key=owner_key,
        actor=actor,
        entries=[*people, *rows],
        source=f"import:{name[:50]}",
    )
    # Known dependencies shape the project's default table, so they are remembered only when
    # the imported table took effect; a proposal waiting for approvals changes nothing.
    if owner_key.startswith("project:") and version.status == TableVersion.Status.ACTIVE:
        known_dependencies_record(
            project=Project.objects.get(slug=recipient_split(owner_key)[1]), rows=rows
        )
    return version, warnings
