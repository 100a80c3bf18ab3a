"""Sign-in and API tokens: who gets a token, with which proof, how it is used and revoked,
what a company that requires MFA accepts, and the rate limits in front of it all."""

from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core import mail
from django.utils import timezone

from projects.models import ApiToken
from tests.factories import PASSWORD, ApiTokenFactory, UserFactory
from tests.factories.companies import AGREEMENT_TERMS, CompanyFactory, CompanyMemberFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def totp_on(user) -> str:
    """Turn on TOTP for ``user`` (as the 2FA page does); returns the secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def code_now(secret: str) -> str:
    """What the person's authenticator app shows now."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def ask_token(api_client, **body):
    return api_client.post(TOKEN_URL, body, format="json")


# --- POST /api/v1/auth/token/ ----------------------------------------------------------------


def test_token_is_shown_once_and_only_its_hash_is_kept(api_client, user):
    answer = ask_token(api_client, username="alice", password=PASSWORD, name="CI")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    key = body["token"]
    assert body["name"] == "CI" and body["second_factor"] is False
    token = ApiToken.objects.get()
    assert key not in {token.key_hash, token.prefix} and key.startswith(token.prefix)
    # a second request makes a second token: the first key is never shown again
    again = ask_token(api_client, username="alice@example.com", password=PASSWORD).json()
    assert again["token"] != key and ApiToken.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "alice"}, "password"),
        ({"username": ["alice"], "password": PASSWORD}, "username"),
        ({"username": "alice", "password": PASSWORD, "code": 123456}, "code"),
    ],
)
def test_incomplete_or_mistyped_bodies_are_400_per_field(api_client, user, body, field):
    answer = api_client.post(TOKEN_URL, body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not ApiToken.objects.exists()


def test_wrong_password_is_401_without_saying_which_part_was_wrong(api_client, user):
    for username in ("alice", "nobody"):
        answer = ask_token(api_client, username=username, password="wrong-password")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Unable to sign in with this username and password."}
        assert answer["WWW-Authenticate"].startswith("Token")
    assert not ApiToken.objects.exists()


def test_an_unverified_email_gets_no_token(api_client):
    person = UserFactory(username="newbie")
    EmailAddress.objects.filter(user=person).update(verified=False)
    answer = ask_token(api_client, username="newbie", password=PASSWORD)
    assert answer.status_code == 403
    assert "Verify your email address" in answer.json()["detail"]
    assert not ApiToken.objects.exists()


def test_an_account_with_mfa_needs_a_valid_code(api_client, user):
    secret = totp_on(user)
    missing = ask_token(api_client, username="alice", password=PASSWORD)
    assert missing.status_code == 401
    assert "two-factor" in missing.json()["code"][0]
    wrong = ask_token(api_client, username="alice", password=PASSWORD, code="000000")
    if wrong.status_code == 200:  # one chance in a million the right code was guessed
        pytest.skip("000000 happened to be the current code")
    assert wrong.status_code == 401 and "not valid" in wrong.json()["code"][0]
    assert not ApiToken.objects.exists()

    code = code_now(secret)
    answer = ask_token(api_client, username="alice", password=PASSWORD, code=code)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["second_factor"] is True
    assert ApiToken.objects.get().second_factor is True
    # a code works once: someone who saw it cannot get another token with it
    replay = ask_token(api_client, username="alice", password=PASSWORD, code=code)
    assert replay.status_code == 401 and ApiToken.objects.count() == 1


def test_a_staff_password_alone_gets_no_token(api_client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    refused = ask_token(api_client, username="alice", password=PASSWORD)
    assert refused.status_code == 403
    assert "two-factor" in str(refused.json())
    assert not ApiToken.objects.exists()

    secret = totp_on(user)
    answer = ask_token(api_client, username="alice", password=PASSWORD, code=code_now(secret))
    assert answer.status_code == 200, answer.json()
    assert ApiToken.objects.get().second_factor is True


# --- using and revoking tokens -----------------------------------------------------------------


def test_a_token_authenticates_and_records_its_use_once_a_minute(api_client, user):
    token = ApiTokenFactory(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.post("/api/v1/projects/", {}, format="json").status_code == 400  # signed in
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    api_client.post("/api/v1/projects/", {}, format="json")
    token.refresh_from_db()
    assert token.last_used_at == first  # within the minute: not written again
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timezone.timedelta(minutes=2))
    api_client.post("/api/v1/projects/", {}, format="json")
    token.refresh_from_db()
    assert token.last_used_at > first - timezone.timedelta(minutes=1)


def test_a_revoked_token_is_refused(api_client, client, user):
    token = ApiTokenFactory(user=user, name="old laptop")
    client.force_login(user)
    page = client.get("/settings/")
    assert b"old laptop" in page.content and token.prefix.encode() in page.content
    assert token.key.encode() not in page.content  # the key is never shown again
    answer = client.post("/settings/", {"revoke": token.pk}, follow=True)
    assert b"was revoked" in answer.content
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    refused = api_client.post("/api/v1/projects/", {}, format="json")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid or revoked token."


def test_nobody_revokes_another_persons_token(client, user, other_user):
    token = ApiTokenFactory(user=user)
    client.force_login(other_user)
    for bad in (token.pk, "abc", "99999999999999999999"):
        assert client.post("/settings/", {"revoke": bad}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_settings_page_creates_a_named_token_and_shows_the_key_once(client, user):
    client.force_login(user)
    refused = client.post("/settings/", {"name": ""})
    assert refused.status_code == 400 and not ApiToken.objects.exists()
    page = client.post("/settings/", {"name": "deploy bot"}, follow=True)
    token = ApiToken.objects.get()
    assert token.name == "deploy bot" and token.second_factor is False
    key = page.context["new_token"]["key"]
    assert key.encode() in page.content and key.startswith(token.prefix)
    assert key.encode() not in client.get("/settings/").content


def test_a_token_made_in_a_session_signed_in_with_mfa_counts_as_two_factor(client, user):
    secret = totp_on(user)
    sign_in_with_mfa(client, "alice", secret)
    client.post("/settings/", {"name": "with 2fa"})
    assert ApiToken.objects.get().second_factor is True


# --- a company's "require MFA" rule ------------------------------------------------------------


def sign_in_with_mfa(client, username: str, secret: str) -> None:
    stage = client.post("/accounts/login/", {"login": username, "password": PASSWORD})
    assert stage.status_code == 302 and "/2fa/authenticate/" in stage["Location"]
    done = client.post(stage["Location"], {"code": code_now(secret)})
    assert done.status_code == 302, done.content


def create_pledge(client):
    body = {"kind": "pledge", "currency": "usd", "start_date": "2021-01-01"}
    body |= AGREEMENT_TERMS["pledge"]
    return client.post("/api/v1/companies/acme/agreements/", body, content_type="application/json")


@pytest.fixture
def strict_company(db):
    """ACME requires MFA; fiona (finance) has TOTP on. Returns her TOTP secret."""
    fiona = UserFactory(username="fiona")
    company = CompanyFactory(slug="acme", name="ACME Corp", kind="startup", require_mfa=True)
    CompanyMemberFactory(company=company, user=fiona, role="finance")
    return totp_on(fiona)


def test_require_mfa_refuses_a_session_signed_in_without_the_second_factor(client, strict_company):
    # Signed in before turning MFA on (so with the password alone): the account has MFA,
    # this session does not.
    client.force_login(UserFactory(username="fiona"))
    refused = create_pledge(client)
    assert refused.status_code == 403
    assert "without it" in refused.json()["detail"]


def test_require_mfa_accepts_a_session_signed_in_with_the_second_factor(client, strict_company):
    sign_in_with_mfa(client, "fiona", strict_company)
    answer = create_pledge(client)
    assert answer.status_code == 201, answer.content


def test_require_mfa_accepts_only_tokens_obtained_with_the_second_factor(
    api_client, strict_company
):
    fiona = UserFactory(username="fiona")
    password_only = ApiTokenFactory(user=fiona, second_factor=False)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {password_only.key}")
    body = {"kind": "pledge", "currency": "usd", "start_date": "2021-01-01"}
    body |= AGREEMENT_TERMS["pledge"]
    assert (
        api_client.post("/api/v1/companies/acme/agreements/", body, format="json").status_code
        == 403
    )

    issued = ask_token(
        api_client, username="fiona", password=PASSWORD, code=code_now(strict_company)
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")
    answer = api_client.post("/api/v1/companies/acme/agreements/", body, format="json")
    assert answer.status_code == 201, answer.content


# --- rate limits -------------------------------------------------------------------------------


@pytest.fixture
def low_token_limits(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth_token": "3/min", "auth_token_username": "2/min"},
    }


def test_token_requests_per_username_are_throttled_with_retry_after(
    api_client, user, low_token_limits
):
    for _ in range(2):
        assert ask_token(api_client, username="alice", password="wrong").status_code == 401
    throttled = ask_token(api_client, username="alice", password=PASSWORD)
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"].lower()
    assert not ApiToken.objects.exists()


def test_token_requests_per_address_are_throttled(api_client, user, low_token_limits):
    for name in ("a", "b", "c"):
        ask_token(api_client, username=name, password="wrong")
    throttled = ask_token(api_client, username="alice", password=PASSWORD)
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    # another address is not affected
    other = api_client.post(
        TOKEN_URL,
        {"username": "alice", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="10.0.0.9",
    )
    assert other.status_code == 200


def test_sign_in_is_rate_limited_with_429_and_retry_after(client, user, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    for _ in range(2):
        client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    limited = client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"
    assert b"Too many attempts" in limited.content
    assert "_auth_user_id" not in client.session


def test_sign_up_is_rate_limited(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/5m/ip"}
    client.post("/accounts/signup/", {"email": "x@example.org", "username": "x"})
    limited = client.post("/accounts/signup/", {"email": "y@example.org", "username": "y"})
    assert limited.status_code == 429 and limited["Retry-After"] == "300"


def test_each_test_starts_with_fresh_limits(api_client, user, low_token_limits):
    # The throttle tests above used up their limits; the conftest fixture cleared them.
    assert ask_token(api_client, username="alice", password=PASSWORD).status_code == 200


# --- GitHub sign-in and mails ------------------------------------------------------------------


def test_github_sign_in_is_hidden_and_answers_404_when_not_configured(client, user):
    login = client.get("/accounts/login/")
    assert b"/accounts/github/" not in login.content
    for path in ("/accounts/github/login/", "/accounts/github/login/callback/"):
        page = client.get(path)
        assert page.status_code == 404
        assert b"GitHub sign-in is not available" in page.content
    client.force_login(user)
    assert b"Connected accounts (GitHub)" not in client.get("/settings/").content


def test_github_sign_in_starts_when_configured(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {
            "SCOPE": ["read:user"],
            "APPS": [{"client_id": "gh-client", "secret": "gh-secret", "key": ""}],
        }
    }
    answer = client.post("/accounts/github/login/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("https://github.com/login/oauth/authorize")


def test_sign_up_mail_names_the_site_not_example_com(client, settings):
    settings.FAIROSS_SITE_NAME = "FairOSS Test"
    settings.SITE_URL = "https://fair.example.org"
    answer = client.post(
        "/accounts/signup/",
        {
            "email": "new@example.org",
            "username": "newbie",
            "password1": "Sup3r-secret-pw!",
            "password2": "Sup3r-secret-pw!",
        },
    )
    assert answer.status_code == 302
    body = mail.outbox[0].body
    assert "example.com" not in body
    assert "Hello from FairOSS Test!" in body and "fair.example.org" in body
