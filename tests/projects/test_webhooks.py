"""Outgoing webhooks against a real HTTP receiver on this machine (a threaded http.server):
signatures, retries, replays, owners, commits, a receiver that is down, SSRF refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse

from faiross.kernel.outbound import address_allowed
from projects.models import WebhookDelivery, WebhookEndpoint
from projects.services.tables import EntryInput, table_propose
from projects.webhooks import services as webhooks
from projects.webhooks.tasks import webhook_deliveries_sweep, webhook_inline_senders_wait
from tests.factories import (
    CompanyFactory,
    ProjectFactory,
    UserFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(settings):
    """Retries in tenths of a second, so a sender in the background finishes in the test."""
    settings.FAIROSS_WEBHOOK_MAX_ATTEMPTS = 3
    settings.FAIROSS_WEBHOOK_RETRY_BASE_SECONDS = 0.05


# --- the receiver -----------------------------------------------------------------------------


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local endpoint that answers ``status`` with ``body`` after ``delay`` seconds."""

    status: int = 200
    body: bytes = b'{"received": true}'
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(
                    Received(time.monotonic(), self.path, dict(self.headers.items()), body)
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/faiross"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(**kwargs) -> Receiver:
        receiver = Receiver(**kwargs).start()
        started.append(receiver)
        return receiver

    yield start
    assert webhook_inline_senders_wait(timeout=30), "a webhook sender did not finish"
    for receiver in started:
        receiver.stop()


def settle():
    assert webhook_inline_senders_wait(timeout=30), "a webhook sender did not finish"


def verify_signature(*, secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What docs/webhooks.md tells integrators to do, written out independently."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, signature = parts["t"], parts["v1"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= tolerance
    return fresh and hmac.compare_digest(expected, signature)


@pytest.fixture
def steward(db):
    return UserFactory(username="stella")


@pytest.fixture
def numpy(steward):
    return ProjectFactory(slug="numpy", name="NumPy", steward=steward)


def add_endpoint(owner_key: str, actor, url: str, events=("table.activated",)) -> WebhookEndpoint:
    return webhooks.webhook_endpoint_create(
        owner_key=owner_key, actor=actor, url=url, events=list(events)
    )


def activate_table(slug: str, actor, entries=None):
    return table_propose(
        owner_key=f"project:{slug}",
        actor=actor,
        entries=entries
        or [
            EntryInput(recipient="user:stella", millibips=3_000_000),
            EntryInput(recipient="email:zoe@example.org", millibips=1_000_000),
        ],
    )


# --- tests ------------------------------------------------------------------------------------


def test_a_delivery_is_signed_and_the_receiver_verifies_it(receivers, numpy, steward):
    receiver = receivers()
    endpoint = add_endpoint("project:numpy", steward, receiver.url)

    version = activate_table("numpy", steward)
    settle()

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert verify_signature(
        secret=endpoint.secret, header=got.headers["FairOSS-Signature"], body=got.body
    )
    assert not verify_signature(
        secret="whsec_someone_else", header=got.headers["FairOSS-Signature"], body=got.body
    )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert got.headers["FairOSS-Event"] == "table.activated"
    assert got.headers["FairOSS-Delivery"] == str(delivery.pk)
    assert got.headers["Content-Type"] == "application/json"
    event = got.json
    assert event["id"] == str(delivery.event_id) and event["type"] == "table.activated"
    assert event["owner"] == "project:numpy"
    assert event["data"]["version"] == version.number
    assert event["data"]["reserve_millibips"] == 6_000_000
    # Public table data only: the email recipient is masked as on the public page.
    recipients = [e["recipient"] for e in event["data"]["entries"]]
    assert recipients == ["user:stella", "email:z***@example.org"]
    assert b"zoe@example.org" not in got.body

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.response_status == 200
    assert delivery.attempts == 1 and delivery.delivered_at is not None
    (attempt,) = delivery.attempt_log.all()
    assert attempt.response_status == 200 and attempt.response_body == '{"received": true}'


def test_a_failing_endpoint_is_retried_with_backoff_then_marked_failed(
    receivers, numpy, steward, settings
):
    settings.FAIROSS_WEBHOOK_MAX_ATTEMPTS = 4
    settings.FAIROSS_WEBHOOK_RETRY_BASE_SECONDS = 0.2
    receiver = receivers(status=500, body=b"database is down " + b"x" * 5000)
    endpoint = add_endpoint("project:numpy", steward, receiver.url)

    activate_table("numpy", steward)
    settle()

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "failed" and delivery.attempts == 4
    assert delivery.next_attempt_at is None
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    for attempt in attempts:  # each attempt is logged with the answer, its body truncated
        assert attempt.response_status == 500
        assert attempt.response_body.startswith("database is down")
        assert len(attempt.response_body) == 1000
        assert "HTTP 500" in attempt.error and attempt.finished_at is not None
    # The same event every time, and the waits grow: at least half of 0.2, 0.4, 0.8 s.
    assert len({r.json["id"] for r in receiver.requests}) == 1
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert len(gaps) == 3
    for gap, bound in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert bound / 2 <= gap


def test_replay_from_the_page_delivers_again_with_the_same_event_id(
    receivers, numpy, steward, client
):
    receiver = receivers()
    endpoint = add_endpoint("project:numpy", steward, receiver.url)
    activate_table("numpy", steward)
    settle()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "succeeded"

    client.force_login(steward)
    page = reverse("projects:webhook_endpoint", args=["project", "numpy", endpoint.pk])
    listing = client.get(page)
    assert listing.status_code == 200
    assert "table.activated" in listing.text and "succeeded" in listing.text
    replay = reverse("projects:webhook_delivery_replay", args=["project", "numpy", delivery.pk])
    response = client.post(replay, follow=True)
    settle()

    assert response.status_code == 200
    assert [r.json["id"] for r in receiver.requests] == [str(delivery.event_id)] * 2
    assert receiver.requests[0].body == receiver.requests[1].body  # the same event
    assert [r.headers["FairOSS-Delivery"] for r in receiver.requests] == [str(delivery.pk)] * 2
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "succeeded"
    assert [a.manual for a in delivery.attempt_log.order_by("number")] == [False, True]
    detail = client.get(
        reverse("projects:webhook_delivery", args=["project", "numpy", delivery.pk])
    )
    assert str(delivery.event_id) in detail.text and "replay" in detail.text


def test_an_endpoint_of_an_unrelated_owner_gets_nothing(receivers, numpy, steward):
    ours, theirs = receivers(), receivers()
    add_endpoint("project:numpy", steward, ours.url)
    other = UserFactory(username="otto")
    ProjectFactory(slug="scipy", steward=other)
    other_endpoint = add_endpoint("project:scipy", other, theirs.url)

    activate_table("numpy", steward)
    settle()

    assert len(ours.requests) == 1
    assert theirs.requests == []
    assert not WebhookDelivery.objects.filter(endpoint=other_endpoint).exists()


def test_an_endpoint_gets_only_the_events_it_picked(receivers, numpy, steward):
    receiver = receivers()
    add_endpoint("project:numpy", steward, receiver.url, events=["dispute.opened"])

    activate_table("numpy", steward)
    settle()

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_a_rolled_back_transaction_sends_nothing(receivers, numpy, steward):
    receiver = receivers()
    add_endpoint("project:numpy", steward, receiver.url)

    with pytest.raises(RuntimeError), transaction.atomic():
        activate_table("numpy", steward)
        assert WebhookDelivery.objects.count() == 1  # recorded inside the transaction…
        raise RuntimeError("something later in the same request failed")
    settle()

    assert WebhookDelivery.objects.count() == 0  # …and gone with it
    assert receiver.requests == []


def test_the_request_that_caused_an_event_succeeds_when_the_receiver_is_down(
    receivers, numpy, steward, api_client, settings
):
    settings.FAIROSS_WEBHOOK_TIMEOUT_SECONDS = 3
    settings.FAIROSS_WEBHOOK_MAX_ATTEMPTS = 2
    settings.FAIROSS_WEBHOOK_RETRY_BASE_SECONDS = 0.1
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = add_endpoint("project:numpy", steward, f"http://127.0.0.1:{closed_port}/hook")
    slow = receivers(delay=2.5)
    hanging = add_endpoint("project:numpy", steward, slow.url)

    api_client.force_authenticate(steward)
    started = time.monotonic()
    response = api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {"entries": [{"recipient": "user:stella", "millibips": 5_000_000}]},
        format="json",
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "active"
    assert elapsed < 2.0  # it did not wait for the slow receiver
    settle()
    failed = WebhookDelivery.objects.get(endpoint=down)
    assert failed.status == "failed" and failed.attempts == 2  # retried, then given up
    for attempt in failed.attempt_log.all():
        assert attempt.response_status is None and "could not be reached" in attempt.error
    assert WebhookDelivery.objects.get(endpoint=hanging).status == "succeeded"


def test_private_addresses_are_refused_in_production_settings(receivers, numpy, steward, settings):
    settings.FAIROSS_WEBHOOK_ALLOWED_NETWORKS = []  # production: nothing private allowed
    receiver = receivers()
    for url in (
        receiver.url,
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://localhost:9000/hook",
    ):
        with pytest.raises(ValidationError) as refused:
            add_endpoint("project:numpy", steward, url)
        assert "public address" in str(refused.value)
    # A name that resolves to a private address is refused when sending, before connecting.
    named = WebhookEndpointFactory(
        owner_key="project:numpy",
        url=receiver.url.replace("127.0.0.1", "localhost"),
        events=["table.activated"],
    )

    activate_table("numpy", steward)
    settle()

    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(endpoint=named)
    assert delivery.status == "failed" and delivery.attempts == 1  # waiting will not help
    assert "private or local address" in delivery.attempt_log.get().error
    assert not address_allowed("::ffff:127.0.0.1")
    assert not address_allowed("192.168.1.10")
    assert address_allowed("93.184.215.14")
    assert address_allowed("127.0.0.1", allowed_networks=["127.0.0.0/8"])


def test_the_sweep_sends_deliveries_whose_attempt_is_due(receivers, numpy):
    receiver = receivers()
    endpoint = WebhookEndpointFactory(owner_key="project:numpy", url=receiver.url)
    due = WebhookDeliveryFactory(endpoint=endpoint)
    done = WebhookDeliveryFactory(endpoint=endpoint, status="succeeded", next_attempt_at=None)

    assert webhook_deliveries_sweep() == "1 webhook deliveries due"
    settle()

    assert [r.json["id"] for r in receiver.requests] == [str(due.event_id)]
    assert WebhookDelivery.objects.get(pk=due.pk).status == "succeeded"
    assert WebhookDelivery.objects.get(pk=done.pk).attempts == 0


def test_steward_adds_an_endpoint_sees_the_secret_once_and_sends_a_test_event(
    receivers, numpy, steward, client
):
    receiver = receivers()
    client.force_login(steward)
    page = reverse("projects:webhooks", args=["project", "numpy"])
    assert client.get(page).status_code == 200

    response = client.post(
        page, {"url": receiver.url, "description": "CI", "events": ["table.activated", "run.done"]}
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert endpoint.events == ["table.activated", "run.done"] and endpoint.created_by == steward
    first = client.get(response["Location"])
    assert endpoint.secret in first.text
    again = client.get(response["Location"])
    assert endpoint.secret not in again.text  # shown once

    action = reverse("projects:webhook_endpoint_action", args=["project", "numpy", endpoint.pk])
    client.post(action, {"action": "test"})
    settle()
    (got,) = receiver.requests
    assert got.json["type"] == "webhook.test" and got.headers["FairOSS-Event"] == "webhook.test"
    assert verify_signature(
        secret=endpoint.secret, header=got.headers["FairOSS-Signature"], body=got.body
    )
    listing = client.get(response["Location"])
    assert "webhook.test" in listing.text and "200" in listing.text

    bad = client.post(page, {"url": "ftp://example.org/x", "events": ["table.activated"]})
    assert bad.status_code == 200 and WebhookEndpoint.objects.count() == 1
    assert "Enter an http:// or https:// URL." in bad.text
    none_picked = client.post(page, {"url": receiver.url, "events": []})
    assert none_picked.status_code == 200 and WebhookEndpoint.objects.count() == 1


def test_only_stewards_and_company_owners_manage_webhooks(numpy, client):
    maintainer = UserFactory(username="mia")
    numpy.memberships.create(user=maintainer, role="maintainer")
    stranger = UserFactory(username="sid")
    owner = UserFactory(username="olga")
    CompanyFactory(slug="acme", owner=owner)
    project_page = reverse("projects:webhooks", args=["project", "numpy"])
    company_page = reverse("projects:webhooks", args=["company", "acme"])

    assert client.get(project_page).status_code == 302  # sign in first
    for person in (maintainer, stranger):
        client.force_login(person)
        assert client.get(project_page).status_code == 403
        assert client.get(company_page).status_code == 403
        with pytest.raises(PermissionDenied):
            add_endpoint("project:numpy", person, "https://hooks.example.org/x")
    client.force_login(owner)
    assert client.get(company_page).status_code == 200
    assert client.get(project_page).status_code == 403
    endpoint = add_endpoint(
        "company:acme", owner, "https://hooks.example.org/acme", ["invoice.paid"]
    )
    # Another owner's endpoint does not exist for them.
    foreign = reverse("projects:webhook_endpoint", args=["company", "acme", endpoint.pk])
    client.force_login(UserFactory(username="bea"))
    assert client.get(foreign).status_code == 403
    other_slug = reverse("projects:webhook_endpoint", args=["project", "numpy", endpoint.pk])
    client.force_login(numpy.memberships.get(role="steward").user)
    assert client.get(other_slug).status_code == 404


# --- the events of the other layers -----------------------------------------------------------


def test_run_done_tells_each_owner_its_own_totals_and_no_persons_amounts(receivers, steward):
    from payouts.distribution import runs
    from payouts.inflows import inflow_record

    project_side, company_side = receivers(), receivers()
    owner = UserFactory(username="olga")
    ProjectFactory(slug="numpy", steward=steward)
    activate_table("numpy", steward, [EntryInput(recipient="user:stella", millibips=2_000_000)])
    acme = CompanyFactory(
        slug="acme", owner=owner, table=[EntryInput(recipient="project:numpy", millibips=6_000_000)]
    )
    add_endpoint("project:numpy", steward, project_side.url, ["run.done"])
    add_endpoint("company:acme", owner, company_side.url, ["run.done"])
    inflow_record(company=acme, amount=10_000, currency="usd", reference="W1")

    run = runs.distribution_run_execute(run_id=runs.distribution_run_create().pk)
    settle()

    assert run.status == "done"
    (to_project,) = project_side.requests
    (to_company,) = company_side.requests
    project_event, company_event = to_project.json, to_company.json
    assert project_event["type"] == company_event["type"] == "run.done"
    assert project_event["id"] != company_event["id"]  # one event per owner
    assert project_event["data"]["run"]["id"] == run.pk
    assert project_event["data"]["run"]["totals"] == {"usd": 10_000}
    # numpy received 6,000 and kept 80% of it; stella's 1,200 is hers alone.
    assert project_event["data"]["kept"] == {"usd": {"reserve": 4_800}}
    assert "stella" not in to_project.body.decode() and b"1200" not in to_project.body
    assert company_event["data"]["paid_in"] == {"usd": 10_000}
    assert company_event["data"]["kept"] == {"usd": {"reserve": 4_000}}


def test_company_events_countersigned_invoice_issued_and_paid(receivers, settings):
    import datetime as dt

    from companies.services.payments import invoice_wire_received
    from tests.factories import AgreementFactory, StaffFactory

    receiver = receivers()
    owner = UserFactory(username="olga")
    acme = CompanyFactory(slug="acme", owner=owner)
    add_endpoint(
        "company:acme",
        owner,
        receiver.url,
        ["agreement.countersigned", "invoice.issued", "invoice.paid"],
    )

    agreement = AgreementFactory(
        kind="pledge", company=acme, actor=owner, start_date=dt.date.today()
    )
    invoice = acme.invoices.get()
    invoice_wire_received(invoice=invoice, staff=StaffFactory(), reference="WIRE-1")
    settle()

    events = [r.json for r in receiver.requests]
    assert sorted(e["type"] for e in events) == [
        "agreement.countersigned",
        "invoice.issued",
        "invoice.paid",
    ]
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["agreement.countersigned"]["agreement"]["reference"] == agreement.reference
    issued, paid = by_type["invoice.issued"]["invoice"], by_type["invoice.paid"]["invoice"]
    assert issued["number"] == paid["number"] == invoice.number
    assert issued["amount"] == 600_000 and issued["currency"] == "usd"
    assert issued["amount_display"] == "$6,000.00"
    assert (issued["status"], paid["status"]) == ("open", "paid")
    assert "10.0.0.1" not in receiver.requests[0].body.decode()  # no signature records


def test_dispute_opened_reaches_the_project_without_the_dispute_text(receivers, numpy, steward):
    from tests.factories import DisputeFactory

    receiver = receivers()
    add_endpoint("project:numpy", steward, receiver.url, ["dispute.opened"])

    dispute = DisputeFactory(
        target="project:numpy", title="Secret title", description="Private words."
    )
    settle()

    (got,) = receiver.requests
    assert got.json["type"] == "dispute.opened"
    assert got.json["data"]["dispute"]["id"] == dispute.pk
    assert got.json["data"]["concerns"] == "project:numpy"
    assert b"Secret title" not in got.body and b"Private words" not in got.body
