"""The opt-in to a public profile (settings → Privacy) and the public profile page."""

import pytest
from django.urls import reverse

from projects.models import UserProfile
from tests.factories import RunAllocationFactory, UserProfileFactory

pytestmark = pytest.mark.django_db


def test_privacy_form_opts_in_and_out(client, user):
    client.force_login(user)
    settings_page = client.get(reverse("settings")).content.decode()
    assert reverse("privacy") in settings_page
    page = client.get(reverse("privacy")).content.decode()
    assert "private" in page and "Public profile" in page
    r = client.post(reverse("privacy"), {"public": "on"}, follow=True)
    assert "Your profile is public" in r.content.decode()
    assert UserProfile.objects.get(user=user).public is True
    client.post(reverse("privacy"), {})
    assert UserProfile.objects.get(user=user).public is False


def test_privacy_form_needs_sign_in(client):
    r = client.get(reverse("privacy"))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_profile_is_404_unless_opted_in(client, user):
    line = RunAllocationFactory(recipient="user:alice", amount=24_680)
    url = reverse("profile", kwargs={"username": "alice"})
    assert client.get(url).status_code == 404  # private by default
    assert client.get(reverse("profile", kwargs={"username": "nobody"})).status_code == 404
    UserProfileFactory(user=user, public=True)
    page = client.get(url).content.decode()
    assert "$246.80" in page and f"run {line.run_id}" in page
    user.is_active = False
    user.save()
    assert client.get(url).status_code == 404
