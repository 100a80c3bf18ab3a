"""The explore page's question (search, filters, sort, page) and the slots it needs filled.

What a project received lives in ``payouts`` and which companies are listed lives in
``companies``, both above this app: they answer through the hooks below, filled at start-up
(``payouts.apps``, ``companies.apps``), so no import goes upwards. Pages are bounded
(``MAX_PAGE`` pages of ``PAGE_SIZE``) and never counted: a page asks for one row more than
it shows to know whether there is a next one, so no request counts 100,000 projects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet

from faiross.kernel.registry import Hook

if TYPE_CHECKING:  # app configs import this module before the models are ready
    from .models import Project

PAGE_SIZE = 30
MAX_PAGE = 100  # 3,000 rows deep; past that a narrower search is the better answer
QUERY_MAX = 100

# Package URL types (https://github.com/package-url/purl-spec) people look for most.
ECOSYSTEMS: list[tuple[str, str]] = [
    ("pypi", "PyPI (Python)"),
    ("npm", "npm (JavaScript)"),
    ("cargo", "crates.io (Rust)"),
    ("gem", "RubyGems"),
    ("maven", "Maven (Java)"),
    ("golang", "Go"),
    ("nuget", "NuGet (.NET)"),
    ("composer", "Packagist (PHP)"),
    ("conda", "conda"),
    ("github", "GitHub repository"),
]

# Amount ranges in major units of the chosen currency: (value, label, low, high or None).
RECEIVED_RANGES: list[tuple[str, str, int, int | None]] = [
    ("under-100", "under 100", 0, 100),
    ("100-1000", "100 to 1,000", 100, 1_000),
    ("1000-10000", "1,000 to 10,000", 1_000, 10_000),
    ("over-10000", "over 10,000", 10_000, None),
]
RECEIVED_CHOICES: list[tuple[str, str]] = [
    ("", "Any"),
    ("yes", "Has received money"),
    ("no", "Nothing yet"),
    *[(value, f"Received {label}") for value, label, _, _ in RECEIVED_RANGES],
]
SORTS: list[tuple[str, str]] = [("name", "Name"), ("received", "Most received")]


@dataclass(frozen=True)
class ExploreQuery:
    """One explore request, already cleaned: every field holds an allowed value."""

    q: str = ""
    ecosystem: str = ""
    verified: bool = False
    received: str = ""
    funded_by: str = ""  # a listed company's slug
    currency: str = ""
    sort: str = "name"
    page: int = 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.ecosystem or self.verified or self.received or self.funded_by)

    def url_params(self, **changes: object) -> str:
        """This query as URL parameters (defaults left out), with ``changes`` applied."""
        query = replace(self, **changes)  # type: ignore[arg-type]
        pairs = [
            ("q", query.q),
            ("ecosystem", query.ecosystem),
            ("verified", "1" if query.verified else ""),
            ("received", query.received),
            ("funded_by", query.funded_by),
            ("currency", "" if query.currency == default_currency() else query.currency),
            ("sort", "" if query.sort == "name" else query.sort),
            ("page", "" if query.page == 1 else str(query.page)),
        ]
        return urlencode([(k, v) for k, v in pairs if v])


class MoneyFilter(Protocol):
    def __call__(
        self,
        projects: QuerySet[Project],
        *,
        received: str,
        low: int | None,
        high: int | None,
        funded_by: str,
        currency: str,
        sort_received: bool,
    ) -> QuerySet[Project]: ...


explore_money_filter: Hook[MoneyFilter] = Hook(
    "projects.explore.explore_money_filter", filled_by="payouts.apps"
)
"""Narrows (and, with ``sort_received``, orders) projects by what they received: ``received``
``yes``/``no``/a range (``low``..``high`` minor units of ``currency``, ``high`` excluded), and
``funded_by`` a ``company:<slug>`` key (directly funded), ``""`` for no such filter."""

explore_received_of: Hook[Callable[[list[int]], dict[int, list[tuple[str, int]]]]] = Hook(
    "projects.explore.explore_received_of", filled_by="payouts.apps"
)
"""``{project id: [(currency, minor units), ...]}`` received so far, for the given ids."""

explore_funders: Hook[Callable[[], list[tuple[str, str]]]] = Hook(
    "projects.explore.explore_funders", filled_by="companies.apps"
)
"""``[(slug, name), ...]`` of the companies that chose to be listed, by name."""


def default_currency() -> str:
    return str(settings.FAIROSS_CURRENCIES[0])


def explore_query_parse(*, params: Mapping[str, str], funder_slugs: set[str]) -> ExploreQuery:
    """Read a GET query: anything not allowed falls back to its default (a page link never
    fails); ``funded_by`` must be one of ``funder_slugs`` (listed companies)."""
    ecosystems = {value for value, _ in ECOSYSTEMS}
    receiveds = {value for value, _ in RECEIVED_CHOICES}
    currencies = {str(c) for c in settings.FAIROSS_CURRENCIES}
    try:
        page = int(params.get("page", "1"))
    except ValueError:
        page = 1
    ecosystem = params.get("ecosystem", "").strip().lower()
    received = params.get("received", "")
    funded_by = params.get("funded_by", "").strip().lower()
    currency = params.get("currency", "").strip().lower()
    sort = params.get("sort", "name")
    return ExploreQuery(
        q=params.get("q", "").strip()[:QUERY_MAX],
        ecosystem=ecosystem if ecosystem in ecosystems else "",
        verified=params.get("verified", "") in ("1", "on", "true"),
        received=received if received in receiveds else "",
        funded_by=funded_by if funded_by in funder_slugs else "",
        currency=currency if currency in currencies else default_currency(),
        sort=sort if sort in dict(SORTS) else "name",
        page=min(max(page, 1), MAX_PAGE),
    )


def received_bounds(*, received: str, currency: str) -> tuple[int | None, int | None]:
    """The minor-unit bounds of a ``RECEIVED_RANGES`` value in ``currency``."""
    from faiross.kernel.money import minor_units

    scale = 10 ** minor_units(currency)
    for value, _, low, high in RECEIVED_RANGES:
        if value == received:
            return low * scale, (high * scale if high is not None else None)
    return None, None
