"""The events of the projects layer, with their payloads (what the owner's systems may
receive: public table data, email recipients masked as on the public page)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from django.conf import settings
from django.urls import reverse

from ..models import ShareTable, TableVersion
from ..privacy import recipient_shown
from .events import TABLE_ACTIVATED
from .services import event_emit


def site_url(path: str) -> str:
    """An absolute link into FairOSS for a payload (``SITE_URL`` + path)."""
    return str(settings.SITE_URL).rstrip("/") + path


class _Entry(Protocol):
    @property
    def recipient(self) -> str: ...
    @property
    def millibips(self) -> int: ...
    @property
    def note(self) -> str: ...


def table_activated_emit(
    *, table: ShareTable, version: TableVersion, entries: Sequence[_Entry]
) -> None:
    """``table.activated`` to the table's owner. Precondition: ``version`` was just made
    active, in the caller's transaction."""

    def data(owner_key: str) -> dict[str, object]:
        kind, _, slug = owner_key.partition(":")
        page = reverse("projects:detail", args=[slug]) if kind == "project" else None
        return {
            "owner": owner_key,
            "version": version.number,
            "activated_at": version.activated_at,
            "reserve_millibips": version.reserve_millibips,
            # Anyone may read an active table; addresses are masked as on its public page.
            "entries": [
                {"recipient": recipient_shown(key=e.recipient, user=None), "millibips": e.millibips}
                | ({"note": e.note} if e.note else {})
                for e in entries
            ],
            "url": site_url(page) if page else None,
        }

    event_emit(owner_keys=[table.owner_key], event_type=TABLE_ACTIVATED, data=data)
