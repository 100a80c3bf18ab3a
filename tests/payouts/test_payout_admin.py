"""Payout admin: read-only lists, tax forms recorded by staff, the payout-run button."""

from __future__ import annotations

import pytest

from payouts.models import PayoutRun, TaxForm
from tests.factories import ConnectedAccountFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(username="admin", is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model", ["connectedaccount", "taxform", "payoutrun", "payout", "stripeevent"]
)
def test_changelists_load(staff_client, model):
    ConnectedAccountFactory()
    assert staff_client.get(f"/admin/payouts/{model}/").status_code == 200


def test_payout_models_are_read_only_but_tax_forms_are_recorded(staff_client):
    assert staff_client.get("/admin/payouts/payout/add/").status_code == 403
    assert staff_client.get("/admin/payouts/connectedaccount/add/").status_code == 403
    person = UserFactory(username="ada")
    response = staff_client.post(
        "/admin/payouts/taxform/add/",
        {"user": person.pk, "kind": "w8ben", "collected": "on", "collected_on": "2026-01-05"},
    )
    assert response.status_code == 302
    form = TaxForm.objects.get(user=person)
    assert form.collected and form.recorded_by.username == "admin"


def test_start_payout_run_button(staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/payouts/payoutrun/start/", follow=True)
    assert "Payout run" in response.content.decode()
    assert PayoutRun.objects.get().status == "done"
    assert staff_client.get("/admin/payouts/payoutrun/start/").status_code == 302
    assert PayoutRun.objects.count() == 1
