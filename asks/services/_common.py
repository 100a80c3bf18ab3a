"""What the asks services share: cleaning text and links, telling people.
Private to ``asks.services``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from projects.notifications import NotificationDraft, notifications_send_many

from ..conf import setting


def text_clean(value: object, *, field: str, label: str, limit: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: f"Give {label} as text."})
    if "\x00" in value:
        raise ValidationError({field: f"{label[0].upper()}{label[1:]} contains a NUL character."})
    value = value.strip()
    if required and not value:
        raise ValidationError({field: f"Give {label}."})
    if len(value) > limit:
        raise ValidationError(
            {field: f"{label[0].upper()}{label[1:]} is at most {limit:,} characters."}
        )
    return value


def links_clean(links: Iterable[object], *, field: str, required: bool = False) -> list[str]:
    """Distinct http(s) links of at most 500 characters, at most FAIROSS_ASKS_MAX_LINKS."""
    cleaned: list[str] = []
    for link in links or ():
        if not isinstance(link, str):
            raise ValidationError({field: "Give each link as text."})
        if link.strip():
            cleaned.append(link.strip())
    limit = setting("FAIROSS_ASKS_MAX_LINKS")
    if len(cleaned) > limit:
        raise ValidationError({field: f"Give at most {limit} links."})
    if required and not cleaned:
        raise ValidationError(
            {field: "Give at least one link (a merged pull request or a release)."}
        )
    validate = URLValidator(schemes=["http", "https"])
    errors = []
    for link in cleaned:
        try:
            if len(link) > 500 or "\x00" in link:
                raise ValidationError("bad")
            validate(link)
        except ValidationError:
            errors.append(f"'{link[:80]}' is not an http(s) address of at most 500 characters.")
    if errors:
        raise ValidationError({field: errors})
    return list(dict.fromkeys(cleaned))


def tell(
    *,
    kind: str,
    people: Iterable[User],
    exclude: User | None,
    subject: str,
    body: str,
    url: str,
    key: str,
) -> None:
    """One message per person (once per ``key``), never to ``exclude`` (who took the step)."""
    seen: set[int] = set()
    drafts: list[NotificationDraft] = []
    for user in people:
        if user.pk in seen or (exclude is not None and user.pk == exclude.pk):
            continue
        seen.add(user.pk)
        drafts.append(NotificationDraft(user, subject, body, url, f"{key}:{user.pk}"))
    if drafts:
        notifications_send_many(kind=kind, drafts=drafts)


def usernames(users: Sequence[User]) -> str:
    return ", ".join(u.get_username() for u in users)
