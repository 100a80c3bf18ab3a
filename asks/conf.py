"""The configurable limits of company asks (Django settings, with these defaults)."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # Days a company has to confirm a delivered request; after that staff may decide.
    "FAIROSS_ASKS_CONFIRM_DAYS": 14,
    # Contact requests one person may send per rolling 24 hours.
    "FAIROSS_ASKS_CONTACTS_PER_DAY": 10,
    # Feature requests one person may file per rolling 24 hours.
    "FAIROSS_ASKS_REQUESTS_PER_DAY": 20,
    # Links per request, delivery or profile.
    "FAIROSS_ASKS_MAX_LINKS": 10,
}


def setting(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))
