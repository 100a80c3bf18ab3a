"""The office's configurable limits (Django settings, with these defaults; see README "Limits")."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # Disputes one user may file per rolling hour.
    "FAIROSS_DISPUTE_FILINGS_PER_HOUR": 5,
    # Messages one user may post on disputes per rolling hour.
    "FAIROSS_DISPUTE_MESSAGES_PER_HOUR": 30,
    # Days after a resolution during which each party may appeal once.
    "FAIROSS_DISPUTE_APPEAL_DAYS": 14,
    # Evidence files: at most this many per filing or message, each at most this many bytes.
    "FAIROSS_DISPUTE_MAX_FILES": 5,
    "FAIROSS_DISPUTE_MAX_FILE_BYTES": 5 * 1024 * 1024,
    # Evidence links per filing or message.
    "FAIROSS_DISPUTE_MAX_LINKS": 10,
    # Days from filing to the default deadline of a new dispute.
    "FAIROSS_DISPUTE_DEADLINE_DAYS": 30,
}


def setting(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))
