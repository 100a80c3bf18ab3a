"""Package URLs (purl) as FairOSS stores them: the package, not a version of it."""

from __future__ import annotations

import re

from packageurl import PackageURL

from .models import Project, ProjectPurl

_PEP503 = re.compile(r"[-_.]+")
MAX_PURL_LENGTH = 255


class PurlError(ValueError):
    """A value that is not a usable package URL; the message says why."""


def purl_normalize(*, value: str) -> str:
    """Return the canonical form of a package URL, without version, qualifiers or subpath.

    Precondition: ``value`` is user input (any string).
    Invariant: the result parses again to itself; PyPI names are PEP 503-normalised and
    types are lower-case, so two spellings of one package give one purl.
    Raises :class:`PurlError` with a message a user can act on.
    """
    text = (value or "").strip()
    if not text:
        raise PurlError("A package URL is empty.")
    if len(text) > MAX_PURL_LENGTH:
        raise PurlError(f"A package URL may be at most {MAX_PURL_LENGTH} characters.")
    if not text.startswith("pkg:"):
        raise PurlError(
            f"'{text}' is not a package URL: it must start with 'pkg:', e.g. pkg:pypi/numpy."
        )
    try:
        purl = PackageURL.from_string(text)
    except ValueError as exc:
        raise PurlError(f"'{text}' is not a valid package URL: {exc}") from None
    if not purl.type or not purl.name:
        raise PurlError(f"'{text}' needs a type and a name, e.g. pkg:npm/react.")
    name = purl.name
    namespace = purl.namespace
    if purl.type == "pypi":
        name = _PEP503.sub("-", name).lower()
    return PackageURL(type=purl.type.lower(), namespace=namespace, name=name).to_string()


def purl_project(*, purl: str) -> Project | None:
    """The project a ``purl:`` recipient reaches: the verified owner of the package first,
    else the oldest claim of it (unverified claims may coexist; money reaching an unverified
    project waits in its escrow), else ``None``.

    Precondition: ``purl`` is normalised (:func:`purl_normalize`).
    """
    row = (
        ProjectPurl.objects.filter(purl=purl)
        .select_related("project")
        .order_by("-verified", "pk")
        .first()
    )
    return row.project if row else None
