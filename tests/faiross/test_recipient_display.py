"""The one masking rule of email recipients (money rule 9)."""

import pytest

from faiross.kernel.recipients import (
    email_mask,
    is_masked_email,
    is_person_key,
    parse_recipient,
    recipient_display,
)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("email:zoe@example.org", "email:z***@example.org"),
        ('email:"a b"@example.org', "email:a***@example.org"),
        ("project:numpy", "project:numpy"),
        ("user:zoe", "user:zoe"),
        ("github:zoe", "github:zoe"),
        ("no-colon", "no-colon"),
    ],
)
def test_only_email_addresses_are_masked(key, shown):
    assert recipient_display(key, reveal=False) == shown
    assert recipient_display(key, reveal=True) == key


def test_a_mask_is_recognised_and_names_nobody():
    masked = email_mask("zoe.long.name@example.org")
    assert masked == "z***@example.org"
    assert "zoe.long" not in masked
    assert is_masked_email(masked)
    assert not is_masked_email("zoe@example.org")
    assert email_mask("not-an-address") == "***"


def test_person_keys():
    assert [is_person_key(k) for k in ("user:a", "github:a", "email:a@b.org")] == [True] * 3
    assert not any(is_person_key(k) for k in ("project:a", "company:a", "purl:pkg:pypi/a"))
    # The mask itself is a syntactically valid address: the faiross.toml reader refuses it.
    assert parse_recipient("email:z***@example.org")
