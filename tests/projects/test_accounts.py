"""Account features a maintainer relies on: MFA, password reset, production settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_two_factor_pages_offer_totp_and_recovery_codes(client, user):
    # A real sign-in, so allauth counts the authentication as recent.
    client.post("/accounts/login/", {"login": "alice", "password": "pw-for-tests-1"})
    index = client.get("/accounts/2fa/")
    assert index.status_code == 200
    activate = client.get("/accounts/2fa/totp/activate/", follow=True)
    if "reauthenticate" in activate.request["PATH_INFO"]:
        # Turning on 2FA asks for the password again, as it should.
        client.post(activate.request["PATH_INFO"], {"password": "pw-for-tests-1"})
        activate = client.get("/accounts/2fa/totp/activate/")
    assert activate.status_code == 200
    assert b"otpauth://" in activate.content or b"secret" in activate.content.lower()


def test_password_reset_sends_a_link(client, user):
    r = client.post("/accounts/password/reset/", {"email": user.email})
    assert r.status_code == 302
    assert len(mail.outbox) == 1 and "/accounts/password/reset/key/" in mail.outbox[0].body


def test_sign_in_and_out(client, user):
    r = client.post("/accounts/login/", {"login": "alice", "password": "pw-for-tests-1"})
    assert r.status_code == 302
    assert client.get("/dashboard/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/dashboard/").status_code == 302


def test_production_settings_pass_check_deploy_and_have_no_default_secrets():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "faiross.settings.production",
    }
    missing = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert missing.returncode != 0 and "DJANGO_SECRET_KEY" in missing.stderr
    env |= {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "faiross.example.org",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "EMAIL_HOST": "smtp.example.org",
        "FAIROSS_RUN_SALT_SECRET": secrets.token_urlsafe(32),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
