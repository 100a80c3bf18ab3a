"""Schemathesis over the whole OpenAPI schema: no request, however odd, gets a 5xx, and
documented answers match the schema.

The schema is the one drf-spectacular serves at /api/schema/, loaded through the WSGI app.
Every operation is tried as an anonymous visitor, as a member (steward of the NumPy project,
owner of the ACME company) and as FairOSS staff, with a few generated requests each, valid
and invalid (schemathesis' positive and negative modes). Most requests name the objects
made below (the project, the company, its agreement, invoice, milestone, runs), so they reach
the code past the 404; the rest keep the generated path values (unknown slugs, huge ids).

Bounded and deterministic: derandomized Hypothesis with no shrinking and no example
database, so the suite takes the same time and tries the same requests on every run.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

if not django_settings.configured:  # the pure tests run with -p no:django
    pytest.skip("needs Django", allow_module_level=True)

import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]

# Requests per operation for a member and for staff, and for the anonymous visitor (refused
# most writes at the door). FAIROSS_SCHEMATHESIS_EXAMPLES=50 makes a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("FAIROSS_SCHEMATHESIS_EXAMPLES", "5"))
ANONYMOUS_EXAMPLES = max(1, MAX_EXAMPLES // 2)

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 11,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",
        },
        # The schema has no examples. Schemathesis' coverage phase (boundary values: about
        # 5,000 requests for a member and staff, 6 minutes here, no 5xx when last tried) and
        # stateful link-following are too long for every run.
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
    }
)
# No 5xx; and what is answered with a status the schema documents has its media type and
# body shape (undocumented statuses, such as most 400/403/404, are not checked).
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _load_schema() -> Any:
    from faiross.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


try:
    schema = _load_schema()
except Exception:
    # A schema that cannot be served must fail these tests, not stop the whole suite at
    # collection: the lazy schema loads it again inside each test, and shows the error there.
    schema = schemathesis.pytest.from_fixture("schema_loaded_in_test")


@pytest.fixture
def schema_loaded_in_test(db) -> Any:
    return _load_schema()


class World:
    """What a request may name: the member's project and company with their objects, and who
    asks (cookies and headers for each role)."""

    def __init__(self) -> None:
        from tests.factories import (
            CompanyFactory,
            DistributionRunFactory,
            InvoiceFactory,
            MilestoneFactory,
            PayoutRunFactory,
            ProjectFactory,
            StaffFactory,
            UserFactory,
        )

        member = UserFactory(username="alice")
        staff = StaffFactory(username="sam")
        project = ProjectFactory(
            slug="numpy", name="NumPy", steward=member, table=[("github:octocat", 10_000_000)]
        )
        company = CompanyFactory(
            slug="acme", name="ACME", owner=member, table=[(f"project:{project.slug}", 10_000_000)]
        )
        # The factories' stubs type their calls as the factory, not the model.
        invoice: Any = InvoiceFactory(company=company, staff=staff)
        milestone: Any = MilestoneFactory(company=company, staff=staff)
        distribution: Any = DistributionRunFactory()
        payout_run: Any = PayoutRunFactory()
        self.values = {
            "/api/v1/projects/": {"slug": project.slug, "number": 1},
            "/api/v1/companies/": {"slug": company.slug, "number": 1, "id": invoice.agreement_id},
            "/invoices/": {"id": invoice.pk},
            "/milestones/": {"id": milestone.agreement_id, "milestone": milestone.pk},
            "/distributions/": {"id": distribution.pk},
            "/payout-runs/": {"id": payout_run.pk},
            "/balances/": {"recipient": f"user:{member.username}"},
        }
        self.credentials = {
            "anonymous": ({}, {}),
            "member": _session_credentials(member),
            "staff": _session_credentials(staff),
        }

    def path_parameters(self, path: str) -> dict[str, Any]:
        """Real values for the path parameters of ``path`` (later, more specific parts of
        the path win: an invoice's ``id`` over the company's agreement ``id``)."""
        found: dict[str, Any] = {}
        for part, values in self.values.items():
            if part in path:
                found.update(values)
        return found


def _session_credentials(user: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Cookies and headers of a signed-in browser session (CSRF token included), so the run
    does not depend on how API tokens are issued."""
    from django.middleware.csrf import get_token
    from django.test import Client, RequestFactory

    client = Client()
    client.force_login(user)
    csrf = get_token(RequestFactory().get("/"))
    cookies = {
        django_settings.SESSION_COOKIE_NAME: client.cookies[
            django_settings.SESSION_COOKIE_NAME
        ].value,
        django_settings.CSRF_COOKIE_NAME: csrf,
    }
    return cookies, {"X-CSRFToken": csrf}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, local_stripe) -> Iterator[World]:
    """Made once for the module, in a transaction rolled back after it (each test runs in a
    savepoint inside it, as with Django's ``setUpTestData``): seeding it for each of the
    ~140 tests took longer than their requests. Stripe is the local server (a member may
    open a Checkout page for the invoice)."""
    stripe = override_settings(
        STRIPE_API_BASE=local_stripe.url,
        STRIPE_SECRET_KEY="sk_test_faiross_tests",
        STRIPE_RATE_LIMIT=0,
    )
    with stripe, django_db_blocker.unblock(), transaction.atomic():
        yield World()
        transaction.set_rollback(True)


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """Tracebacks of the exceptions the app turned into a 500 during the test.

    Requests go through the WSGI handler, which closes the database connection when a
    request ends; inside the test's transaction that would close it under the test, so, as
    Django's test client does, the handler leaves connections alone meanwhile."""
    errors: list[str] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        errors.append(traceback.format_exc())

    got_request_exception.connect(record)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield errors
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        got_request_exception.disconnect(record)


def _request(case: Any, use_real_objects: int, world: World, role: str, errors: list[str]) -> None:
    """Send ``case`` as ``role``, with the world's objects in the path unless
    ``use_real_objects`` is 0 (one request in four keeps the generated values)."""
    if use_real_objects and case.path_parameters:
        real = world.path_parameters(case.path)
        case.path_parameters = {
            name: real.get(name, value) for name, value in case.path_parameters.items()
        }
    cookies, headers = world.credentials[role]
    response = case.call(cookies=cookies, headers=headers)
    tracebacks = "\n".join(errors)
    errors.clear()
    try:
        case.validate_response(response, checks=CHECKS)
    except Exception as failure:
        if tracebacks:
            failure.add_note(f"In the app:\n{tracebacks}")
        raise


# Each test is one operation (about 47) for one role. Hypothesis' settings here override the
# config's max-examples: the anonymous visitor is refused most writes at the door, so it
# gets fewer requests; a function-scoped fixture (the test's savepoint) is what we want.
REAL_OBJECTS = st.integers(min_value=0, max_value=3)
HEALTH = [HealthCheck.function_scoped_fixture]


@hypothesis_settings(max_examples=ANONYMOUS_EXAMPLES, suppress_health_check=HEALTH)
@schema.given(use_real_objects=REAL_OBJECTS)
@schema.parametrize()
def test_anonymous_gets_no_server_error(case, use_real_objects, world, server_errors):
    _request(case, use_real_objects, world, "anonymous", server_errors)


@hypothesis_settings(max_examples=MAX_EXAMPLES, suppress_health_check=HEALTH)
@schema.given(use_real_objects=REAL_OBJECTS)
@schema.parametrize()
def test_member_gets_no_server_error(case, use_real_objects, world, server_errors):
    _request(case, use_real_objects, world, "member", server_errors)


@hypothesis_settings(max_examples=MAX_EXAMPLES, suppress_health_check=HEALTH)
@schema.given(use_real_objects=REAL_OBJECTS)
@schema.parametrize()
def test_staff_gets_no_server_error(case, use_real_objects, world, server_errors):
    _request(case, use_real_objects, world, "staff", server_errors)


def test_the_roles_are_who_they_say(world, server_errors):
    """The run means something only if the member and staff are signed in: a run refused at
    the door as anonymous would find no 5xx either."""
    run = world.path_parameters("/distributions/")
    companies = schema["/api/v1/companies/"]["GET"]
    distribution = schema["/api/v1/distributions/{id}/"]["GET"]

    def status(operation: Any, role: str, **path: Any) -> int:
        cookies, headers = world.credentials[role]
        return (
            operation.Case(path_parameters=path).call(cookies=cookies, headers=headers).status_code
        )

    assert status(companies, "anonymous") in (401, 403)
    assert status(companies, "member") == 200
    assert status(distribution, "member", **run) == 403
    assert status(distribution, "staff", **run) == 200
