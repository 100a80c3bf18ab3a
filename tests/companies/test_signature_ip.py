"""Signature records keep the client's address, not the reverse proxy's (one trusted proxy)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from companies import services

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # REMOTE_ADDR: the reverse proxy in front of FairOSS
CLIENT = "198.51.100.7"  # what the proxy appended to X-Forwarded-For
FORGED = "192.0.2.66"  # what the client sent in X-Forwarded-For itself


@pytest.fixture
def one_proxy(settings):
    settings.FAIROSS_TRUSTED_PROXY_COUNT = 1
    settings.FAIROSS_TRUSTED_PROXIES = []


def dividend(company, actor):
    return services.agreement_create(
        company=company,
        actor=actor,
        kind="dividend",
        terms_data={"currency": "usd", "start_date": "2025-01-01", "share_millibips": 100_000},
    )


def test_page_signature_stores_the_forwarded_client_ip(client, company, finance, one_proxy):
    agreement = dividend(company, finance)
    client.force_login(finance)
    r = client.post(
        f"/companies/acme/agreements/{agreement.pk}/sign/",
        {"agree": "yes"},
        HTTP_USER_AGENT="Pytest/1.0",
        HTTP_X_FORWARDED_FOR=f"{FORGED}, {CLIENT}",
        REMOTE_ADDR=PROXY,
        follow=True,
    )
    agreement.refresh_from_db()
    assert agreement.status == "signed"
    sig = agreement.signatures.get()
    assert (sig.user, sig.ip_address, sig.user_agent) == (finance, CLIENT, "Pytest/1.0")
    assert CLIENT in r.content.decode()


def test_api_signature_stores_the_forwarded_client_ip(company, owner, one_proxy):
    agreement = dividend(company, owner)
    api = APIClient()
    api.force_authenticate(owner)
    r = api.post(
        f"/api/v1/companies/acme/agreements/{agreement.pk}/sign/",
        HTTP_X_FORWARDED_FOR=CLIENT,
        REMOTE_ADDR=PROXY,
    )
    assert r.status_code == 200, r.content
    assert agreement.signatures.get().ip_address == CLIENT


def test_admin_countersignature_stores_the_forwarded_client_ip(
    client, company, owner, staff, one_proxy
):
    staff.is_superuser = True
    staff.save()
    agreement = dividend(company, owner)
    services.agreement_sign(agreement=agreement, actor=owner, ip_address=None, user_agent="")
    client.force_login(staff)
    r = client.post(
        reverse("admin:companies_agreement_changelist"),
        {"action": "countersign", "_selected_action": [agreement.pk]},
        HTTP_X_FORWARDED_FOR=CLIENT,
        REMOTE_ADDR=PROXY,
        follow=True,
    )
    assert "Countersigned: 1" in r.content.decode()
    assert agreement.signatures.get(party="faiross").ip_address == CLIENT


def test_without_a_trusted_proxy_the_forged_header_is_not_stored(client, company, finance):
    agreement = dividend(company, finance)
    client.force_login(finance)
    client.post(
        f"/companies/acme/agreements/{agreement.pk}/sign/",
        {"agree": "yes"},
        HTTP_X_FORWARDED_FOR=FORGED,
        REMOTE_ADDR="203.0.113.9",
    )
    assert agreement.signatures.get().ip_address == "203.0.113.9"
