"""The demo data: its projects are verified by staff (so its money flows), except left-pad,
whose money waits in escrow to show the waiting state."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from payouts.selectors import account_balance
from projects.models import Project, ProjectVerification

pytestmark = pytest.mark.django_db


def test_demo_projects_are_verified_by_staff_and_left_pad_waits():
    call_command("demo_data", stdout=StringIO())
    call_command("demo_data", stdout=StringIO())  # safe to run again: nothing twice

    for slug in ("numpy", "scipy", "requests"):
        project = Project.objects.get(slug=slug)
        assert project.is_verified, slug
        proofs = list(project.verifications.all())
        assert [(p.method, p.note, p.user.username) for p in proofs] == [
            (ProjectVerification.Method.STAFF, "demo data", "admin")
        ]
    left_pad = Project.objects.get(slug="left-pad")
    assert not left_pad.is_verified
    assert not left_pad.verifications.exists()

    # Acme's table gives numpy 50% and left-pad 10%: numpy's money flowed on by its table
    # (bob's 20% of it is his), left-pad's waits in its escrow.
    assert account_balance(owner="user:bob", purpose="available", currency="usd") > 0
    assert account_balance(owner="project:left-pad", purpose="escrow", currency="usd") > 0
    assert account_balance(owner="project:numpy", purpose="escrow", currency="usd") == 0
