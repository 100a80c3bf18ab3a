"""Company pages: onboarding, dashboard, forms and their messages, documents, exports,
Groundwater pages and badges, admin actions."""

import csv
import io
import json

import pytest
from django.urls import reverse

from companies import services
from companies.models import Agreement, Company, CompanyMember, Invoice
from payouts.models import Inflow
from tests.factories import AgreementFactory, InvoiceFactory, TableVersionFactory
from tests.pdf_helpers import check_pdf, pdf_text

pytestmark = pytest.mark.django_db


def test_create_company_makes_the_creator_owner(client, owner):
    client.force_login(owner)
    r = client.post(
        "/companies/new/",
        {
            "name": "Initech LLC",
            "slug": "initech",
            "kind": "mature",
            "country": "de",
            "website": "",
        },
    )
    assert r.status_code == 302 and r["Location"] == "/companies/initech/"
    assert CompanyMember.objects.get(company__slug="initech").role == "owner"
    page = client.get("/companies/initech/").content.decode()
    assert "Initech LLC" in page and "No agreement yet" in page


def test_create_company_shows_rule_errors_on_fields(client, owner, company):
    client.force_login(owner)
    r = client.post("/companies/new/", {"name": "X", "slug": "acme", "kind": "startup"})
    assert r.status_code == 200 and "is taken" in r.content.decode()
    assert Company.objects.count() == 1


def test_pages_of_a_company_are_for_members_only(client, company, outsider, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="equity")
    paths = [
        "",
        "export.csv",
        "settings/",
        "table/edit/",
        "table/history/",
        "table/import/",
        f"agreements/{agreement.pk}/",
        f"agreements/{agreement.pk}/document/",
        f"agreements/{agreement.pk}/document.pdf",
        f"agreements/{agreement.pk}/ocf.json",
        "agreements/new/pledge/",
    ]
    client.force_login(outsider)
    for path in paths:
        assert client.get(f"/companies/acme/{path}").status_code == 404, path
    assert client.post(f"/companies/acme/agreements/{agreement.pk}/sign/").status_code == 404
    client.logout()
    assert client.get("/companies/acme/").status_code == 302  # to sign-in


def test_viewer_sees_but_cannot_sign_or_create(client, company, viewer, owner):
    agreement = AgreementFactory(company=company, actor=owner, kind="dividend", status="draft")
    client.force_login(viewer)
    page = client.get(f"/companies/acme/agreements/{agreement.pk}/").content.decode()
    assert "Only owners and finance members can sign" in page
    r = client.post(
        f"/companies/acme/agreements/{agreement.pk}/sign/", {"agree": "yes"}, follow=True
    )
    assert "Viewers cannot act on money" in r.content.decode()
    assert client.get("/companies/acme/agreements/new/pledge/").status_code == 403
    assert client.get("/companies/acme/table/edit/").status_code == 403
    agreement.refresh_from_db()
    assert agreement.status == "draft"


def test_pledge_form_to_signed(client, company, finance):
    client.force_login(finance)
    r = client.post(
        "/companies/acme/agreements/new/pledge/",
        {
            "currency": "usd",
            "start_date": "2025-01-01",
            "amount": "2,000",
            "developers": "12",
            "period": "yearly",
            "step": "confirm",
        },
    )
    agreement = Agreement.objects.get()
    assert r.status_code == 302 and agreement.amount == 200_000 and agreement.developers == 12
    page = client.get(r["Location"]).content.decode()
    assert "$2,000.00 per developer per year" in page and "$24,000.00 per year" in page
    r = client.post(f"/companies/acme/agreements/{agreement.pk}/sign/", {}, follow=True)
    assert "Tick the box" in r.content.decode()
    r = client.post(
        f"/companies/acme/agreements/{agreement.pk}/sign/",
        {"agree": "yes"},
        HTTP_USER_AGENT="Pytest/1.0",
        REMOTE_ADDR="198.51.100.7",
        follow=True,
    )
    agreement.refresh_from_db()
    assert agreement.status == "signed"
    sig = agreement.signatures.get()
    assert (sig.user, sig.ip_address, sig.user_agent) == (finance, "198.51.100.7", "Pytest/1.0")
    assert "198.51.100.7" in r.content.decode()


# The equity form but for its vesting: 0.5% as 10 common shares, a 12-month cliff, 48 months.
EQUITY_FORM = {
    "share": "0.5",
    "share_count": "10",
    "share_class": "Common",
    "cliff_months": "12",
    "vesting_months": "48",
}


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("pledge", {"amount": "-5", "developers": "1", "period": "yearly"}, "is negative"),
        (
            "pledge",
            {"amount": "20.001", "developers": "1", "period": "yearly"},
            "more decimals than an amount in USD can have (2)",
        ),
        ("dividend", {"share": "75"}, "at most 50%"),
        ("dividend", {"share": "abc"}, "is not a percentage"),
        (
            "equity",
            EQUITY_FORM | {"time_vesting": "80", "milestones": "10; Series A"},
            "Vesting must add up to 100%",
        ),
        (
            "equity",
            EQUITY_FORM | {"time_vesting": "90", "milestones": "Series A"},
            "percent; title",
        ),
        ("carry", {"share": "2", "fund_name": "Fund I"}, "for VC funds"),
    ],
)
def test_agreement_forms_show_clear_messages(client, company, owner, kind, data, message):
    client.force_login(owner)
    r = client.post(
        f"/companies/acme/agreements/new/{kind}/",
        {"currency": "usd", "start_date": "2025-01-01", **data},
    )
    assert r.status_code == 200
    assert message in r.content.decode()
    assert not Agreement.objects.exists()


def test_declaration_form_messages(client, company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    client.force_login(owner)
    url = f"/companies/acme/agreements/{agreement.pk}/record/"
    r = client.post(
        url,
        {"declared_on": "2025-01-01", "amount": "1000", "currency": "eur", "step": "confirm"},
        follow=True,
    )
    assert "record the amount in USD" in r.content.decode()
    r = client.post(
        url,
        {"declared_on": "2025-01-01", "amount": "1000000", "currency": "usd", "step": "confirm"},
        follow=True,
    )
    assert "invoice INV-" in r.content.decode()
    assert Invoice.objects.get().amount == 1_000_000


def test_document_pdf_csv_and_ocf(client, company, owner, staff, dependency):
    TableVersionFactory(
        owner_key=company.owner_key, actor=owner, entries=[("project:numpy", 6_000_000)]
    )
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="equity")
    client.force_login(owner)
    html = client.get(f"/companies/acme/agreements/{agreement.pk}/document/").content.decode()
    assert "5000 shares of Common Stock" in html and agreement.document_sha256 in html
    r = client.get(f"/companies/acme/agreements/{agreement.pk}/document.pdf")
    assert r["Content-Type"] == "application/pdf"
    assert check_pdf(r.content) >= 1
    text = pdf_text(r.content)
    assert "Equity agreement AGR-" in text and "Signature records" in text
    assert "5000 shares of Common Stock" in text
    r = client.get(f"/companies/acme/agreements/{agreement.pk}/ocf.json")
    bundle = json.loads(r.content)
    assert bundle["Manifest.ocf.json"]["issuer"]["legal_name"] == "ACME Corp"
    r = client.get("/companies/acme/export.csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0][0] == "section"


def test_preview_on_the_dashboard(client, company, owner, dependency):
    TableVersionFactory(
        owner_key=company.owner_key,
        actor=owner,
        entries=[("project:numpy", 6_000_000), ("github:octocat", 4_000_000)],
    )
    client.force_login(owner)
    page = client.get("/companies/acme/?amount=1000&currency=usd").content.decode()
    assert "$600.00" in page and "$400.00" in page and "octocat (GitHub)" in page
    page = client.get("/companies/acme/?amount=-1&currency=usd").content.decode()
    assert "is negative; enter an amount in USD" in page


def test_csv_neutralises_formulas(client, company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    InvoiceFactory(agreement=agreement, amount=100)
    Invoice.objects.update(description="=HYPERLINK(1)")
    client.force_login(owner)
    rows = list(csv.reader(io.StringIO(client.get("/companies/acme/export.csv").content.decode())))
    assert rows[1][3] == "'=HYPERLINK(1)"


def test_groundwater_pages_and_badges(client, company, owner, staff):
    assert client.get("/companies/groundwater/acme/").status_code == 404
    assert client.get("/companies/groundwater/acme/badge.svg").status_code == 404
    AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    r = client.get("/companies/groundwater/acme/badge.svg")
    assert r.status_code == 200 and r["Content-Type"].startswith("image/svg+xml")
    assert b"Groundwater" in r.content and b"participant" in r.content
    page = client.get("/companies/groundwater/acme/").content.decode()
    assert "ACME Corp" in page and "badge.svg" in page
    assert "ACME Corp" in client.get("/companies/groundwater/").content.decode()
    assert "ACME Corp" in client.get("/companies/").content.decode()
    assert client.get("/companies/groundwater/projects/numpy/badge.svg").status_code == 404


def test_invitation_page_accept(client, company, owner):
    from tests.factories import UserFactory

    bob = UserFactory(username="bob")
    inv = services.company_invite(company=company, actor=owner, target="bob", role="finance")
    client.force_login(bob)
    assert "ACME Corp" in client.get("/companies/").content.decode()  # listed as invitation
    r = client.post(f"/companies/invitations/{inv.token}/", {"accept": ""})
    assert r.status_code == 302 and CompanyMember.objects.get(user=bob).role == "finance"


def test_members_page_actions(client, company, owner, finance):
    client.force_login(owner)
    client.post("/companies/acme/members/fiona/", {"role": "viewer"})
    assert CompanyMember.objects.get(user=finance).role == "viewer"
    r = client.post("/companies/acme/members/olivia/", {}, follow=True)
    assert "last owner" in r.content.decode()


def test_company_table_editor_and_import(client, company, owner, dependency):
    client.force_login(owner)
    page = client.get("/companies/acme/table/edit/").content.decode()
    assert "Share table of ACME Corp" in page and "/companies/acme/table/import/" in page
    r = client.post(
        "/companies/acme/table/edit/",
        {"recipient": ["project:numpy"], "percent": ["80"], "note": [""]},
    )
    assert r.status_code == 302
    assert "v1" in client.get("/companies/acme/table/history/").content.decode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("requirements.txt", b"requests==2.31\nflask>=2\n")
    r = client.post(
        "/companies/acme/table/import/", {"file": upload, "share": "50", "policy": "even"}
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    history = client.get("/companies/acme/table/history/").content.decode()
    assert "v2" in history


# --- admin ------------------------------------------------------------------------------


def test_admin_countersign_milestone_and_wire(client, company, owner, staff):
    staff.is_superuser = True
    staff.save()
    agreement = AgreementFactory(company=company, actor=owner, kind="dividend", status="draft")
    client.force_login(staff)
    url = reverse("admin:companies_agreement_changelist")
    r = client.post(url, {"action": "countersign", "_selected_action": [agreement.pk]}, follow=True)
    assert "only an agreement signed by the company" in r.content.decode()
    services.agreement_sign(agreement=agreement, actor=owner, ip_address=None, user_agent="")
    r = client.post(url, {"action": "countersign", "_selected_action": [agreement.pk]}, follow=True)
    assert "Countersigned: 1" in r.content.decode()
    agreement.refresh_from_db()
    assert agreement.status == "active"
    invoice = InvoiceFactory(agreement=agreement, amount=10_000)
    url = reverse("admin:companies_invoice_changelist")
    for _ in range(2):
        client.post(url, {"action": "wire_received", "_selected_action": [invoice.pk]})
    assert Inflow.objects.count() == 1
    assert (
        client.get(reverse("admin:companies_agreement_change", args=[agreement.pk])).status_code
        == 200
    )

    equity = AgreementFactory(company=company, actor=owner, staff=staff, kind="equity")
    milestone = equity.milestones.get()
    r = client.post(
        reverse("admin:companies_milestone_changelist"),
        {"action": "mark_met", "_selected_action": [milestone.pk]},
        follow=True,
    )
    milestone.refresh_from_db()
    assert milestone.met_on is not None


def test_pledge_schedule_is_a_periodic_task():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Issue pledge invoices")
    assert task.task == "companies.issue_pledge_invoices" and task.enabled
    from companies.tasks import issue_pledge_invoices

    assert issue_pledge_invoices.apply().get() == 0
