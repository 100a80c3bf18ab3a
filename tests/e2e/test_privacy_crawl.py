"""Private by default (money rule 9), checked the way an outsider would look.

Unique marker values are seeded into every private field: people's email addresses, what a
person received, their balances and payouts, Stripe account and transfer ids, tax status,
signature records (IP address, user agent, document hash), the text of a dispute, a
notification's address. Then every page is crawled (each URL pattern of ``faiross.urls``
filled with the seeded objects, plus every link found on the way) and every API ``GET`` of
the OpenAPI schema is called, as an anonymous visitor, as an unrelated signed-in user, as a
member of an unrelated company (its dashboard and CSV show where its money went, down to the
seeded person) and as a steward of the project whose table names the seeded email address
(the table editor included): no marker may appear in any answer, except what that
steward may see (their own address, the invitation they sent, the dispute about their
project).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from faiross.kernel.money import money_format

pytestmark = pytest.mark.django_db

VICTIM_EMAIL = "vq.secret-7731@mail.example"
STEWARD_EMAIL = "stew.k2j4@mail.example"
TABLE_EMAIL = "hidden.m4rk3r@example.org"
INVITEE_EMAIL = "invitee.z8z8@mail.example"
PARTY_EMAIL = "party.w5w5@mail.example"
NOTIFY_EMAIL = "notify.r3r3@mail.example"
STRIPE_ACCOUNT = "acct_MARKERvictim01"
STRIPE_TRANSFER = "tr_MARKERvictim01"
TAX_NOTE = "tax-note-MARKER-5521"
SIGNATURE_IP = "198.51.100.73"
SIGNATURE_AGENT = "UA-MARKER-agent-9911"
DISPUTE_TITLE = "dispute-title-MARKER-q9w8"
DISPUTE_TEXT = "dispute-text-MARKER-e3e3"
PAYOUT_AMOUNT = 777_123
BALANCE_AMOUNT = 654_321
# What the unrelated company pays: its table sends it all to the victim's project.
OTHER_COMPANY_INFLOW = 1_987_653

# Prefixes not crawled: the admin (staff only, a sign-in redirect for others) and allauth's
# own pages (they show nothing of anyone else).
SKIPPED_PREFIXES = ("admin/", "accounts/", "api/docs/", "api/redoc/")
MAX_PAGES = 900


def _money_forms(amount: int) -> list[str]:
    """An amount as pages and files may write it: "$7,771.23", "7771.23", "777123"."""
    return [money_format(amount=amount, currency="usd"), f"{amount / 100:.2f}", str(amount)]


@pytest.fixture
def world(db):
    """The seeded objects and the markers that must never leak."""
    from companies.models import AgreementSignature
    from payouts.models import ConnectedAccount, Payout, RunAllocation
    from tests.factories import (
        AgreementFactory,
        AgreementSignatureFactory,
        CompanyFactory,
        ConnectedAccountFactory,
        DisputeFactory,
        DisputePartyFactory,
        DistributionRunFactory,
        InflowFactory,
        InvitationFactory,
        NotificationFactory,
        PayoutFactory,
        ProjectFactory,
        TableVersionFactory,
        TaxFormFactory,
        UserFactory,
        UserProfileFactory,
        credit,
        owner_actor,
    )

    victim = UserFactory(username="victim", email=VICTIM_EMAIL, first_name="Vic")
    steward = UserFactory(username="stew", email=STEWARD_EMAIL)
    opted_in = UserFactory(username="openly")
    UserProfileFactory(user=opted_in, public=True)
    UserProfileFactory(user=victim, public=False)
    project = ProjectFactory(slug="pubproj", name="Public Project", steward=steward)
    TableVersionFactory(
        owner_key="project:pubproj",
        actor=steward,
        entries=[
            ("user:victim", 3_000_000),
            (f"email:{TABLE_EMAIL}", 2_000_000),
            ("user:openly", 1_000_000),
        ],
    )
    InvitationFactory(project=project, invited_by=steward, email=INVITEE_EMAIL)

    company = CompanyFactory(slug="funder-co", name="Funder Co")
    agreement = AgreementFactory(company=company)
    TableVersionFactory(
        owner_key=company.owner_key,
        actor=owner_actor(company.owner_key),
        entries=[("project:pubproj", 10_000_000)],
    )
    draft = AgreementFactory(company=company, status="draft")
    signature = AgreementSignatureFactory(agreement=draft)
    AgreementSignature.objects.filter(pk=signature.pk).update(
        ip_address=SIGNATURE_IP, user_agent=SIGNATURE_AGENT
    )
    InflowFactory(company=company, amount=4_321_987)
    # A company with nothing to do with the victim but that its money reaches them: its
    # members see where their money went, with the victim's part summed with other people's.
    carla = UserFactory(username="carla")
    other = CompanyFactory(slug="other-co", name="Other Co", owner=carla)
    TableVersionFactory(
        owner_key=other.owner_key, actor=carla, entries=[("project:pubproj", 10_000_000)]
    )
    InflowFactory(company=other, amount=OTHER_COMPANY_INFLOW)
    run = DistributionRunFactory()
    victim_line = RunAllocation.objects.get(run=run, recipient="user:victim")
    from companies.selectors import company_money_reached

    victim_from_other = next(
        r.amount for r in company_money_reached(company=other) if r.recipient == "user:victim"
    )

    ConnectedAccountFactory(user=victim, stripe_account_id=STRIPE_ACCOUNT)
    TaxFormFactory(user=victim, note=TAX_NOTE)
    # Pays out everything available: the run's line and this credit.
    payout = PayoutFactory(user=victim, amount=PAYOUT_AMOUNT)
    Payout.objects.filter(pk=payout.pk).update(stripe_transfer_id=STRIPE_TRANSFER)
    credit("user:victim", BALANCE_AMOUNT)
    assert ConnectedAccount.objects.filter(user=victim).count() == 1

    dispute = DisputeFactory(
        filer=victim, target="project:pubproj", title=DISPUTE_TITLE, description=DISPUTE_TEXT
    )
    DisputePartyFactory(dispute=dispute, user=None, email=PARTY_EMAIL)
    NotificationFactory(to=NOTIFY_EMAIL, subject="marker notification")

    mallory = UserFactory(username="mallory")
    markers = [
        VICTIM_EMAIL.split("@")[0],
        STEWARD_EMAIL.split("@")[0],
        TABLE_EMAIL.split("@")[0],
        INVITEE_EMAIL.split("@")[0],
        PARTY_EMAIL.split("@")[0],
        NOTIFY_EMAIL.split("@")[0],
        STRIPE_ACCOUNT,
        STRIPE_TRANSFER,
        TAX_NOTE,
        SIGNATURE_IP,
        SIGNATURE_AGENT,
        signature.document_sha256,
        DISPUTE_TITLE,
        DISPUTE_TEXT,
        *_money_forms(victim_line.amount),
        *_money_forms(victim_from_other),
        *_money_forms(payout.amount),
        *_money_forms(BALANCE_AMOUNT),
    ]
    values = {
        "slug": ["pubproj", "funder-co"],
        "pk": sorted(
            {run.pk, payout.pk, payout.run_id or payout.pk, dispute.pk, agreement.pk, draft.pk}
            | set(company.invoices.values_list("pk", flat=True)[:3])
            | set(dispute.evidence.values_list("pk", flat=True)[:3])
        ),
        "number": [1, 2],
        "username": ["victim", "openly", "stew"],
        "recipient": [
            "user:victim",
            f"email:{TABLE_EMAIL}",
            f"email:{VICTIM_EMAIL}",
            "project:pubproj",
            "company:funder-co",
        ],
        "year": [run.created_at.year],
        "fmt": ["csv", "pdf"],
        "milestone": list(draft.milestones.values_list("pk", flat=True)[:2]) or [1],
    }
    # What a dispute may be about: the filing form must describe none of these to outsiders.
    targets = [
        f"payout:{payout.pk}",
        f"agreement:{draft.pk}",
        f"agreement:{agreement.pk}",
        f"distribution_line:{victim_line.pk}",
        *(f"table_entry:{pk}" for pk in _entry_ids("project:pubproj")),
    ]
    extra = [
        *(f"/disputes/new/?about={t}" for t in targets),
        "/companies/other-co/",
        "/companies/other-co/export.csv",
    ]
    return {
        "markers": markers,
        "values": values,
        "extra": extra,
        "mallory": mallory,
        "company member": carla,
        "steward": steward,
        "victim": victim,
        "payout": payout,
        "run": run,
        "victim_line": victim_line,
        "victim_from_other": victim_from_other,
    }


def _entry_ids(owner_key: str) -> list[int]:
    from projects.models import TableEntry

    return list(
        TableEntry.objects.filter(version__table__owner_key=owner_key).values_list("pk", flat=True)
    )


def _routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    """Every path-style route of ``faiross.urls`` (router regexes are covered by the API
    schema)."""
    for p in patterns:
        if not isinstance(p.pattern, RoutePattern):
            continue
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, route)
        else:
            yield route


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\{(\w+)\}")


def _filled(route: str, values: dict[str, list[object]]) -> list[str]:
    """``route`` with each parameter replaced by every seeded value of its name."""
    names = [m.group(2) or m.group(3) for m in _PARAM.finditer(route)]
    choices = [values.get(name, [1]) for name in names]
    urls = []
    for combo in itertools.product(*choices):
        values_left = iter(combo)

        def _next(_match: re.Match[str], left: Iterator[object] = values_left) -> str:
            return str(next(left))

        filled = _PARAM.sub(_next, route)
        urls.append("/" + filled.lstrip("/"))
    return urls


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value:
                self.hrefs.append(value)


def _local(href: str) -> str | None:
    url, _ = urldefrag(href)
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path.startswith(tuple("/" + p for p in SKIPPED_PREFIXES)) or path.startswith("/static/"):
        return None
    return path


def _crawl(client: Client, start: list[str], markers: list[str]) -> tuple[list[str], int]:
    """GET every URL of ``start`` and every local link found, once; return the leaks found
    (``url: marker``) and how many answers were read."""
    seen: set[str] = set()
    queue = list(dict.fromkeys(start))
    leaks: list[str] = []
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        body = b"".join(response) if response.streaming else response.content
        text = body.decode("utf-8", "replace") + " " + str(response.get("Location", ""))
        for marker in markers:
            if marker in text:
                leaks.append(f"{url} ({response.status_code}): {marker}")
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            parser = _Links()
            parser.feed(text)
            for href in parser.hrefs:
                local = _local(href)
                if local and local not in seen:
                    queue.append(local)
    return leaks, len(seen)


def _api_paths(client: Client) -> list[str]:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    return [path for path, ops in schema["paths"].items() if "get" in ops]


def _start_urls(world: dict[str, object], client: Client) -> list[str]:
    values = world["values"]
    assert isinstance(values, dict)
    urls = ["/", *world["extra"]]  # type: ignore[misc]
    for route in _routes(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES):
            continue
        urls += _filled(route, values)
    for path in _api_paths(client):
        urls += _filled(path, values)
    return urls


# What the steward of the table that names TABLE_EMAIL may see: their own address, the
# address they invited, and the dispute about their project (they are a party to it).
STEWARD_MAY_SEE = (
    STEWARD_EMAIL.split("@")[0],
    INVITEE_EMAIL.split("@")[0],
    DISPUTE_TITLE,
    DISPUTE_TEXT,
)


@pytest.mark.parametrize("who", ["anonymous", "unrelated user", "company member", "steward"])
def test_no_private_value_reaches_an_outsider(world, who):
    client = Client()
    markers = world["markers"]
    if who != "anonymous":
        client.force_login(world["mallory" if who == "unrelated user" else who])
    if who == "steward":
        markers = [m for m in markers if m not in STEWARD_MAY_SEE]
        assert TABLE_EMAIL.split("@")[0] in markers
    start = _start_urls(world, client)
    leaks, answers = _crawl(client, start, markers)
    assert answers > 100, answers  # the crawl reached the site, not just a sign-in page
    assert leaks == []
    if who == "company member":
        # The crawl saw where the company's money went, with the victim summed in people.
        assert "people (" in client.get("/companies/other-co/").content.decode()
    if who == "steward":
        editor = client.get("/projects/pubproj/table/edit/").content.decode()
        assert "email:h***@example.org" in editor and "/projects/pubproj/table/edit/" in start


def test_the_markers_are_visible_to_their_owner_and_staff(world):
    """The crawl would find the markers if they leaked: the victim and staff see them."""
    client = Client()
    client.force_login(world["victim"])
    earnings = client.get("/payouts/earnings/").content.decode()
    assert _money_forms(BALANCE_AMOUNT)[0] in earnings
    balances = client.get("/api/v1/balances/user:victim/").json()
    assert balances["balances"]["usd"]["available"] == BALANCE_AMOUNT
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    run_page = client.get(f"/payouts/runs/{world['run'].pk}/").content.decode()
    assert _money_forms(world["victim_line"].amount)[0] in run_page
    table = client.get("/api/v1/projects/pubproj/table/").json()
    assert f"email:{TABLE_EMAIL}" in [e["recipient"] for e in table["entries"]]
    dashboard = client.get("/companies/other-co/").content.decode()
    assert _money_forms(world["victim_from_other"])[0] in dashboard
