"""Dispute steps go through the parties' notification choices; a party without an account
is mailed at the address the dispute names."""

from __future__ import annotations

import pytest
from django.core import mail

from projects.notifications import DISPUTE_UPDATE
from tests.disputes.helpers import file_dispute
from tests.factories import NotificationPreferenceFactory

pytestmark = pytest.mark.django_db


def test_a_party_who_turned_dispute_steps_off_is_not_mailed(
    world, django_capture_on_commit_callbacks
):
    NotificationPreferenceFactory(user=world.bob, kind=DISPUTE_UPDATE)
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file_dispute(world)
    to = sorted(m.to[0] for m in mail.outbox)
    assert "bob@example.com" not in to
    assert {"carol@example.com", "alice@example.com"} <= set(to)
    for message in mail.outbox:
        assert message.subject.startswith("[FairOSS] ")
        assert len(message.to) == 1  # parties never see each other's addresses
    party_mail = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert f"/disputes/{dispute.pk}/" in party_mail[0].body
