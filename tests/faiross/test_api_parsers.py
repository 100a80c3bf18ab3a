"""NUL characters anywhere in a JSON body are a 400 naming where they are, never a 500
(faiross.kernel.api_parsers, the API's default JSON parser)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faiross.kernel.api_parsers import nul_paths
from projects.models import TableVersion

pytestmark = pytest.mark.django_db

NUL = "NUL characters (\\u0000) are not allowed."


def post_json(client, url: str, body: object):
    # Sent as text, so "\u0000" reaches the server as the JSON escape a script would send.
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "entries": [
                    {"recipient": "user:alice", "millibips": 1_000_000},
                    {"recipient": "user:bob", "millibips": 1_000_000},
                    {"recipient": "user:carol", "millibips": 1_000_000, "note": "a\x00b"},
                ]
            },
            "entries[2].note",
        ),
        ({"entries": [], "note": "\x00"}, "note"),
        (
            {"entries": [{"recipient": "user:alice", "millibips": 1, "no\x00te": "x"}]},
            "entries[0].note",
        ),
        ({"entries": [], "extra": {"deep": [["ok", "bad\x00"]]}}, "extra.deep[0][1]"),
    ],
)
def test_a_nul_in_a_table_proposal_is_a_400_naming_the_field(client, user, project, body, field):
    client.force_login(user)
    response = post_json(client, f"/api/v1/projects/{project.slug}/table/versions/", body)
    assert response.status_code == 400
    assert response.json() == {field: [NUL]}
    assert not TableVersion.objects.filter(table__owner_key=project.owner_key).exists()


def test_a_body_that_is_a_nul_string_is_refused_as_a_whole(client, user):
    client.force_login(user)
    response = post_json(client, "/api/v1/companies/", "\x00")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [NUL]}


def test_clean_bodies_pass_untouched(client, user, project):
    client.force_login(user)
    body = {"entries": [{"recipient": "user:alice", "millibips": 1_000_000, "note": "thanks"}]}
    response = post_json(client, f"/api/v1/projects/{project.slug}/table/versions/", body)
    assert response.status_code == 201


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


def has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


@given(value=json_values)
def test_nul_paths_finds_a_nul_exactly_when_there_is_one(value):
    paths = list(nul_paths(value))
    assert bool(paths) == has_nul(value)
    assert all("\x00" not in p for p in paths)
