"""The OpenAPI schema documents ``Idempotency-Key`` on every create that takes it, and the
table import (a multipart upload) takes it too (projects.idempotency)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from projects.models import IdempotencyRecord, TableVersion

pytestmark = pytest.mark.django_db

CREATES = {
    ("post", "/api/v1/companies/"),
    ("post", "/api/v1/companies/{slug}/invitations/"),
    ("post", "/api/v1/companies/{slug}/agreements/"),
    ("post", "/api/v1/companies/{slug}/agreements/{id}/declarations/"),
    ("post", "/api/v1/companies/{slug}/agreements/{id}/liquidity-events/"),
    ("post", "/api/v1/companies/{slug}/agreements/{id}/carry-distributions/"),
    ("post", "/api/v1/inflows/"),
    ("post", "/api/v1/distributions/"),
    ("post", "/api/v1/payout-runs/"),
    ("post", "/api/v1/projects/"),
    ("post", "/api/v1/projects/{slug}/table/versions/"),
    ("post", "/api/v1/projects/{slug}/table/import/"),
}
# Actions on an existing thing: running them twice is harmless or refused by their own rules.
NOT_CREATES = {
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/companies/{slug}/agreements/{id}/sign/"),
    ("post", "/api/v1/projects/{slug}/table/versions/{number}/approve/"),
}


def header_parameters(operation: dict) -> dict[str, dict]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_lists_the_header_on_every_create_that_takes_it(schema):
    for method, path in CREATES:
        operation = schema["paths"][path][method]
        header = header_parameters(operation).get("Idempotency-Key")
        assert header is not None, f"{method} {path}"
        assert not header.get("required") and header["schema"]["type"] == "string"
        assert "Idempotent-Replayed" in header["description"]
        # The view's own schema (its answer) is kept alongside the header.
        assert "201" in operation["responses"], f"{method} {path}"
    for method, path in NOT_CREATES:
        assert "Idempotency-Key" not in header_parameters(schema["paths"][path][method])


def test_the_multipart_import_is_documented_with_its_file(schema):
    operation = schema["paths"]["/api/v1/projects/{slug}/table/import/"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]


def import_file(client: APIClient, content: bytes, key: str):
    return client.post(
        "/api/v1/projects/numpy/table/import/",
        {"file": SimpleUploadedFile("package.json", content), "share_millibips": "1000000"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_import_with_the_same_key_makes_one_version(user, project):
    client = APIClient()
    client.force_authenticate(user)
    manifest = b'{"dependencies": {"left-pad": "^1"}}'
    first = import_file(client, manifest, "import-1")
    assert first.status_code == 201, first.json()
    again = import_file(client, manifest, "import-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert TableVersion.objects.filter(table__owner_key="project:numpy").count() == 1

    other = import_file(client, b'{"dependencies": {"is-even": "^1"}}', "import-1")
    assert other.status_code == 422  # another file under the same key
    assert TableVersion.objects.filter(table__owner_key="project:numpy").count() == 1


def test_a_refused_import_keeps_nothing_and_the_key_can_be_reused(user, project):
    client = APIClient()
    client.force_authenticate(user)
    assert import_file(client, b"{not json", "import-2").status_code == 400
    assert not IdempotencyRecord.objects.exists()
    fixed = import_file(client, b'{"dependencies": {"left-pad": "^1"}}', "import-2")
    assert fixed.status_code == 201
