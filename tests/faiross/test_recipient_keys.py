"""faiross.kernel.recipients: the key builders and recipient_split (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faiross.kernel.recipients import (
    company_key,
    email_key,
    github_key,
    parse_recipient,
    project_key,
    purl_key,
    recipient_split,
    user_key,
)


def test_builders_spell_the_documented_keys():
    assert project_key("numpy") == "project:numpy"
    assert user_key("alice") == "user:alice"
    assert company_key("acme") == "company:acme"
    assert github_key("octocat") == "github:octocat"
    assert email_key("z@example.org") == "email:z@example.org"
    assert purl_key("pkg:pypi/requests") == "purl:pkg:pypi/requests"


def test_built_recipients_parse():
    for key in (
        project_key("numpy"),
        user_key("alice"),
        github_key("octocat"),
        email_key("z@example.org"),
        purl_key("pkg:pypi/requests"),
    ):
        assert parse_recipient(key) == recipient_split(key)


@given(kind=st.sampled_from(["project", "user", "company"]), ident=st.text(min_size=1))
def test_split_undoes_the_builders(kind, ident):
    build = {"project": project_key, "user": user_key, "company": company_key}[kind]
    assert recipient_split(build(ident)) == (kind, ident)


def test_split_of_a_purl_keeps_its_colons():
    assert recipient_split("purl:pkg:npm/left-pad") == ("purl", "pkg:npm/left-pad")


def test_split_refuses_a_key_without_a_colon():
    with pytest.raises(ValueError):
        recipient_split("numpy")
