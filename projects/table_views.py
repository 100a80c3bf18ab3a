"""Share-table pages: the editor, history and diff, import, the repo file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from faiross.kernel.recipients import project_key
from faiross.kernel.shares import millibips_to_percent, percent_to_millibips

from . import selectors, services
from .auth import signed_in_user
from .faiross_toml import table_to_toml
from .importers import (
    MAX_DEPENDENCIES,
    MAX_FILE_BYTES,
    SHARE_POLICIES,
    SUPPORTED_FILES,
)
from .models import Project, TableVersion
from .privacy import recipient_shown
from .selectors import TableRow
from .services.tables import MAX_ENTRIES, EntryInput, TableRoles, table_roles

PREVIEW_SESSION_KEY = "table_preview"
MAX_UPLOAD_MB = MAX_FILE_BYTES // (1024 * 1024)
FUNDING_NAMES = re.compile(r"^(funding\.json|funding\.ya?ml)$", re.IGNORECASE)


def _owner(slug: str) -> tuple[Project, str]:
    project = get_object_or_404(Project, slug=slug)
    return project, project_key(project.slug)


# The editor's script posts its rows as one JSON field, so a table of MAX_ENTRIES rows is one
# form field, not three per row: Django refuses a form of more than
# DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) fields, which stopped imported tables at ~333 rows.
# More rows than a file may list dependencies is not a table anyone typed: refused unread.
MAX_POSTED_ROWS = MAX_DEPENDENCIES
# ``ref`` is optional: the id of the entry a masked row was shown from (see _editor_rows).
ROW_FIELDS = ("recipient", "percent", "note", "ref")


def _posted_rows(request: HttpRequest) -> tuple[list[dict[str, str]], list[str]]:
    """The editor's rows as typed: the JSON field ``rows`` (a list of objects with string
    ``recipient``, ``percent``, ``note`` and, optionally, ``ref``) or, from forms without the
    script, the repeated fields of the same names. Returns the rows and what was wrong with
    their shape."""
    if "rows" not in request.POST:
        recipients = request.POST.getlist("recipient")
        columns = [recipients, *(request.POST.getlist(name) for name in ROW_FIELDS[1:])]
        return [
            {
                name: (col[i] if i < len(col) else "")
                for name, col in zip(ROW_FIELDS, columns, strict=True)
            }
            for i in range(len(recipients))
        ], []
    try:
        data = json.loads(request.POST["rows"])
    except ValueError:
        return [], ["rows: the editor sent rows that are not JSON; reload the page."]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        return [], ["rows: expected a list of rows with recipient, percent and note."]
    if len(data) > MAX_POSTED_ROWS:
        return [], [f"rows: at most {MAX_POSTED_ROWS:,} rows can be sent at once."]
    rows = []
    for i, raw in enumerate(data):
        row = {name: raw.get(name, "") for name in ROW_FIELDS}
        # The script sends the reference as text; a hand-written client may send a number.
        if isinstance(row["ref"], int) and not isinstance(row["ref"], bool):
            row["ref"] = str(row["ref"])
        bad = [name for name, value in row.items() if not isinstance(value, str)]
        if bad:
            return [], [f"row {i + 1}: {', '.join(bad)} must be text."]
        rows.append(row)
    return rows, []


def _rows_from_post(posted: list[dict[str, str]]) -> tuple[list[EntryInput], list[str]]:
    errors: list[str] = []
    rows: list[EntryInput] = []
    for i, row in enumerate(posted):
        recipient, pct, note = row["recipient"].strip(), row["percent"], row["note"]
        if not recipient and not pct.strip():
            continue
        try:
            millibips = percent_to_millibips(text=pct, field="percent")
        except ValidationError as exc:
            errors.append(f"row {i + 1} ({recipient or 'empty'}): {' '.join(exc.messages)}")
            continue
        ref = row.get("ref", "").strip()
        rows.append(
            EntryInput(
                recipient=recipient,
                millibips=millibips,
                note=note.strip(),
                entry_id=int(ref) if ref.isascii() and ref.isdigit() and len(ref) < 16 else None,
            )
        )
    return rows, errors


def _shown_from(view: selectors.TableView) -> dict[str, int]:
    """The entry ids of the active version's email rows, by recipient: what a masked row of
    the editor refers to."""
    if view.version is None:
        return {}
    return dict(
        view.version.entries.filter(recipient__startswith="email:").values_list("recipient", "pk")
    )


def _editor_rows(
    rows: Iterable[TableRow | EntryInput],
    *,
    viewer: User | AnonymousUser,
    refs: dict[str, int] | None = None,
) -> list[dict[str, str]]:
    """Rows as the table editor shows them to ``viewer``: the share as a percent, and an
    address they may not read masked (money rule 9), with ``ref`` the entry of ``refs`` it
    was shown from: saved unchanged, the row keeps that entry's address."""
    out = []
    for r in rows:
        row = {
            "recipient": recipient_shown(key=r.recipient, user=viewer),
            "percent": millibips_to_percent(millibips=r.millibips),
            "note": r.note,
        }
        if row["recipient"] != r.recipient:
            row["ref"] = str((refs or {}).get(r.recipient, ""))
        out.append(row)
    return out


def table_editor_page(
    request: HttpRequest,
    *,
    owner_key: str,
    roles: TableRoles,
    history_url: str,
    approvers_noun: str,
    context: dict[str, object],
) -> HttpResponse:
    """The share-table editor for any owner (projects, companies): show the active rows or an
    import preview, or save the posted rows as a new version and go to the history.

    Precondition: ``roles.can_propose`` was checked by the caller.
    """
    errors: list[str] = []
    warnings: list[str] = []
    if request.method == "POST":
        posted, errors = _posted_rows(request)
        rows, row_errors = _rows_from_post(posted)
        errors += row_errors
        if not errors:
            try:
                version = services.table_propose(
                    owner_key=owner_key,
                    actor=signed_in_user(request),
                    entries=rows,
                    source=request.POST.get("source", "editor")[:60] or "editor",
                    note=request.POST.get("version_note", ""),
                )
            except ValidationError as exc:
                errors = exc.messages
            else:
                preview = request.session.pop(PREVIEW_SESSION_KEY, None)
                if version.status == TableVersion.Status.ACTIVE:
                    messages.success(request, f"Version {version.number} is active.")
                else:
                    messages.success(
                        request,
                        f"Version {version.number} is proposed; it becomes active when enough "
                        f"{approvers_noun} approve it.",
                    )
                _preview_project_updates_apply(request, preview, owner_key=owner_key)
                return redirect(history_url)
        # Show the user's rows again, as typed, with the errors.
        initial = posted
        source = request.POST.get("source", "editor")
    else:
        preview = request.session.get(PREVIEW_SESSION_KEY)
        if preview and preview.get("owner") == owner_key and request.GET.get("preview"):
            initial = preview["rows"]
            warnings = preview.get("warnings", [])
            source = preview.get("source", "editor")
        else:
            view = selectors.table_view(owner_key=owner_key)
            initial = _editor_rows(view.rows, viewer=request.user, refs=_shown_from(view))
            source = "editor"
    return render(
        request,
        "projects/table_edit.html",
        {
            **context,
            "rows_json": initial,
            "errors": errors,
            "warnings": warnings,
            "source": source,
            "can_approve": roles.can_approve,
        },
    )


def _proposer(request: HttpRequest, slug: str, *, doing: str) -> tuple[Project, str, TableRoles]:
    """The project, its owner key and the user's roles, when the user may propose versions;
    otherwise ``PermissionDenied`` saying who may be ``doing`` it."""
    project, owner_key = _owner(slug)
    roles = table_roles(owner_key=owner_key, user=request.user)
    if not roles.can_propose:
        raise PermissionDenied(f"Only the project's stewards and maintainers can {doing}.")
    return project, owner_key, roles


@login_required
def table_edit(request: HttpRequest, slug: str) -> HttpResponse:
    project, owner_key, roles = _proposer(request, slug, doing="edit its table")
    return table_editor_page(
        request,
        owner_key=owner_key,
        roles=roles,
        history_url=reverse("projects:table_history", kwargs={"slug": slug}),
        approvers_noun="stewards",
        context={"project": project},
    )


@login_required
def table_import(request: HttpRequest, slug: str) -> HttpResponse:
    project, owner_key, _ = _proposer(request, slug, doing="import a table")
    history_url = reverse("projects:table_history", kwargs={"slug": slug})
    errors: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        pasted = request.POST.get("text", "")
        filename = request.POST.get("filename", "").strip()
        if upload is not None:
            too_large = upload_size_error(upload)
            if too_large:
                errors.append(too_large)
                content, filename = b"", upload.name or ""
            else:
                content, filename = upload.read(), upload.name or "upload"
        elif pasted.strip():
            content = pasted.encode("utf-8")
            filename = filename or "faiross.toml"
        else:
            errors.append("Choose a file to upload, or paste its text.")
            content = b""
        try:
            share = percent_to_millibips(text=request.POST.get("share", "50") or "0")
        except ValidationError as exc:
            errors.append(f"Dependency share: {' '.join(exc.messages)}")
            share = 0
        policy = request.POST.get("policy", "even")
        if not errors:
            try:
                if FUNDING_NAMES.match(filename.rsplit("/", 1)[-1]):
                    return _funding_preview(request, project, owner_key, filename, content)
                if filename.lower().rsplit("/", 1)[-1].endswith("faiross.toml"):
                    version, warns = services.table_import_file(
                        owner_key=owner_key,
                        actor=signed_in_user(request),
                        filename=filename,
                        content=content,
                    )
                    return table_imported(
                        request, version, warns, filename=filename, history=history_url
                    )
                return _manifest_preview(
                    request, project, owner_key, filename, content, share, policy
                )
            except ValidationError as exc:
                errors = exc.messages
    return table_import_page(
        request, "projects/table_import.html", errors=errors, context={"project": project}
    )


def table_import_page(
    request: HttpRequest, template: str, *, errors: list[str], context: dict[str, object]
) -> HttpResponse:
    """The import form of any owner (projects, companies), with the errors of the last try."""
    return render(
        request,
        template,
        {
            **context,
            "errors": errors,
            "policies": SHARE_POLICIES,
            "supported": SUPPORTED_FILES,
            "max_mb": MAX_UPLOAD_MB,
            "max_dependencies": f"{MAX_DEPENDENCIES:,}",
            "max_rows": MAX_ENTRIES,
            "post": request.POST,
        },
    )


def upload_size_error(upload: UploadedFile) -> str | None:
    """Why ``upload`` is refused before it is read, if it is too large."""
    if upload.size and upload.size > MAX_FILE_BYTES:
        return f"The file is larger than {MAX_UPLOAD_MB} MiB."
    return None


def table_imported(
    request: HttpRequest,
    version: TableVersion,
    warnings: list[str],
    *,
    filename: str | None,
    history: str,
) -> HttpResponse:
    """After an import: show its warnings and what it became, then go to the table history."""
    for warning in warnings:
        messages.warning(request, warning)
    messages.success(
        request, f"Imported {filename} as version {version.number} ({version.status})."
    )
    return redirect(history)


def _preview_project_updates_apply(
    request: HttpRequest, preview: dict[str, Any] | None, *, owner_key: str
) -> None:
    """After a previewed table was saved: fill the project's empty fields that the imported
    funding file offered. The preview itself writes nothing; only a member who may approve
    the table may change the project, and a field filled in the meantime is left alone."""
    if not preview or preview.get("owner") != owner_key or not preview.get("project_updates"):
        return
    if not table_roles(owner_key=owner_key, user=request.user).can_approve:
        return
    project = Project.objects.filter(slug=owner_key.removeprefix("project:")).first()
    if project is None:
        return
    updates = {
        name: value
        for name, value in preview["project_updates"].items()
        if name in ("homepage", "description") and not getattr(project, name)
    }
    if not updates:
        return
    try:
        services.project_update(project=project, actor=signed_in_user(request), **updates)
    except ValidationError:
        messages.warning(request, f"The {' and '.join(updates)} from the file could not be used.")
    else:
        messages.info(request, f"Filled the project's empty {' and '.join(updates)}.")


def _manifest_preview(
    request: HttpRequest,
    project: Project,
    owner_key: str,
    filename: str,
    content: bytes,
    share: int,
    policy: str,
) -> HttpResponse:
    """The editor, filled with one row per dependency of the file, for the user to check.

    Writes nothing (no placeholder projects, no known dependencies: those would change the
    project's default table before anyone approved anything); saving the rows does that.
    A table holds at most ``MAX_ENTRIES`` rows: from a longer file the dependencies with the
    largest parts are kept and the whole share is split over them by the same weights.
    """
    rows, warnings = services.tables.manifest_dependency_rows(
        owner_key=owner_key,
        filename=filename,
        content=content,
        share_millibips=share,
        policy=policy,
    )
    view = selectors.table_view(owner_key=owner_key)
    people = [
        EntryInput(r.recipient, r.millibips, r.note)
        for r in ([] if view.is_default else view.rows)
        if r.kind != "project"
    ]
    read = [f"{len(rows)} dependencies read from {filename} ({policy} split)."]
    rows, fit_warning = services.tables.manifest_rows_fit(people=people, rows=rows)
    if fit_warning:
        read.append(fit_warning)
    request.session[PREVIEW_SESSION_KEY] = {
        "owner": owner_key,
        "rows": _editor_rows([*people, *rows], viewer=request.user, refs=_shown_from(view)),
        "warnings": [*read, *warnings],
        "source": f"import:{filename.rsplit('/', 1)[-1][:50]}",
    }
    return redirect(reverse("projects:table_edit", kwargs={"slug": project.slug}) + "?preview=1")


def _funding_preview(
    request: HttpRequest, project: Project, owner_key: str, filename: str, content: bytes
) -> HttpResponse:
    """A funding file prefills people rows (shares left for the user) and empty project links.

    Writes nothing: the project's empty homepage and description from the file are filled
    when the previewed table is saved (:func:`_preview_project_updates_apply`).
    """
    from .importers import ImportFileError, parse_funding_file

    try:
        info = parse_funding_file(filename=filename, content=content)
    except ImportFileError as exc:
        raise ValidationError({"file": [exc.message]}) from None
    view = selectors.table_view(owner_key=owner_key)
    rows = (
        []
        if view.is_default
        else _editor_rows(view.rows, viewer=request.user, refs=_shown_from(view))
    )
    known = set() if view.is_default else {r.recipient for r in view.rows}
    new_people = [p for p in info.people if p not in known]
    rows += [{"recipient": p, "percent": "", "note": f"from {filename}"} for p in new_people]
    notes = [f"{len(new_people)} people read from {filename}: give each a share, or remove them."]
    updates = {}
    if info.homepage and not project.homepage:
        updates["homepage"] = info.homepage
    if info.description and not project.description:
        updates["description"] = info.description[:2000]
    if updates and table_roles(owner_key=owner_key, user=request.user).can_approve:
        notes.append(
            f"Saving this table also fills the project's empty {' and '.join(updates)} "
            f"from {filename}."
        )
    else:
        updates = {}
    notes += [f"Link: {label} {url}" for label, url in info.links[:10]]
    request.session[PREVIEW_SESSION_KEY] = {
        "owner": owner_key,
        "rows": rows,
        "warnings": notes + list(info.warnings),
        "source": f"import:{filename[:50]}",
        "project_updates": updates,
    }
    return redirect(reverse("projects:table_edit", kwargs={"slug": project.slug}) + "?preview=1")


def table_history(request: HttpRequest, slug: str) -> HttpResponse:
    project, owner_key = _owner(slug)
    versions = list(selectors.table_versions(owner_key=owner_key))
    roles = table_roles(owner_key=owner_key, user=request.user)
    diff = None
    a, b = request.GET.get("a"), request.GET.get("b")
    if a and b:
        by_number = {str(v.number): v for v in versions}
        if a in by_number and b in by_number:
            diff = {
                "a": by_number[a],
                "b": by_number[b],
                "rows": selectors.version_diff(before=by_number[a], after=by_number[b]),
            }
        else:
            messages.error(request, "Choose two versions that exist to compare.")
    table = versions and versions[0].table
    return render(
        request,
        "projects/table_history.html",
        {
            "project": project,
            "versions": versions,
            "roles": roles,
            "diff": diff,
            "table": table,
            "quorum": services.tables.quorum_needed(table=table, approvers=roles.approvers)
            if table
            else max(1, roles.approvers // 2 + 1),
        },
    )


def table_version(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    project, owner_key = _owner(slug)
    version = get_object_or_404(
        selectors.table_versions(owner_key=owner_key).select_related("table"), number=number
    )
    roles = table_roles(owner_key=owner_key, user=request.user)
    return render(
        request,
        "projects/table_version.html",
        {
            "project": project,
            "version": version,
            "entries": version.entries.select_related("project").order_by("position"),
            "roles": roles,
            "approved": request.user.is_authenticated
            and version.approvals.filter(user=request.user).exists(),
        },
    )


@login_required
@require_POST
def table_version_action(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    _, owner_key = _owner(slug)
    version = get_object_or_404(TableVersion, table__owner_key=owner_key, number=number)
    try:
        if request.POST.get("action") == "withdraw":
            services.table_version_withdraw(version=version, actor=signed_in_user(request))
            messages.info(request, f"Version {number} was withdrawn.")
        else:
            version = services.table_version_approve(version=version, actor=signed_in_user(request))
            messages.success(request, f"You approved version {number}; it is {version.status}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("projects:table_version", slug=slug, number=number)


@login_required
@require_POST
def table_quorum(request: HttpRequest, slug: str) -> HttpResponse:
    _, owner_key = _owner(slug)
    raw = request.POST.get("quorum", "").strip()
    try:
        quorum = int(raw) if raw else None
    except ValueError:
        messages.error(request, "The quorum must be a whole number, or empty for a majority.")
        return redirect("projects:table_history", slug=slug)
    try:
        services.table_set_quorum(owner_key=owner_key, actor=signed_in_user(request), quorum=quorum)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Quorum saved.")
    return redirect("projects:table_history", slug=slug)


def table_toml(request: HttpRequest, slug: str) -> HttpResponse:
    _, owner_key = _owner(slug)
    view = selectors.table_view(owner_key=owner_key)
    text = table_to_toml(
        owner=owner_key,
        version=view.version.number if view.version else None,
        entries=[(r.recipient, r.millibips) for r in view.rows],
        comment="default table (none declared)" if view.is_default else None,
        notes={r.recipient: r.note for r in view.rows if r.note},
        display=lambda key: recipient_shown(key=key, user=request.user),
    )
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="faiross.toml"'
    return response


def project_search(request: HttpRequest) -> JsonResponse:
    """Autocomplete for the table editor: projects by slug, name or purl."""
    q = request.GET.get("q", "").strip()[:100]
    if len(q) < 2:
        return JsonResponse({"results": []})
    found = (
        Project.objects.filter(
            Q(slug__icontains=q) | Q(name__icontains=q) | Q(purls__purl__icontains=q)
        )
        .distinct()
        .order_by("slug")[:10]
    )
    return JsonResponse(
        {
            "results": [
                {
                    "recipient": project_key(p.slug),
                    "name": p.name,
                    "status": p.status,
                    # Money reaching an unverified project waits in its escrow.
                    "verified": p.is_verified,
                }
                for p in found
            ]
        }
    )
