"""Ownership is proved before money moves: the four proofs, against a local server standing in
for GitHub, raw files, PyPI and npm; what a proof does to other claims of the same packages;
claiming a placeholder; and the outbound client's limits."""

from __future__ import annotations

import socket

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialToken
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from faiross.kernel.outbound import (
    OutboundError,
    OutboundRedirectRefused,
    OutboundTimeout,
    OutboundTooLarge,
    OutboundUnreachable,
    outbound_get,
)
from projects.models import Project, ProjectPurl, ProjectVerification
from projects.purls import purl_project
from projects.services import placeholder_project_for_purl, project_create, project_update
from projects.verification import (
    project_verify_by_check,
    project_verify_by_staff,
    verification_token,
)
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    SocialAccountFactory,
    StaffFactory,
    UserFactory,
)
from tests.fake_hosts import (
    drip,
    huge_body,
    npm_document,
    pypi_document,
    redirect_to,
    slow,
)

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def github_user(user, *, login: str, token: str):
    account = SocialAccountFactory(user=user, login=login)
    SocialToken.objects.create(account=account, token=token)
    return account


# --- the outbound client ------------------------------------------------------------------------


def test_outbound_follows_redirects_on_the_same_host_only(hosts):
    hosts.special["/here"] = redirect_to("/raw/numpy/numpy/HEAD/README")
    hosts.raw_files[("numpy", "numpy", "README")] = "hello"
    assert outbound_get(f"{hosts.url}/here").text == "hello"

    port = hosts.url.rsplit(":", 1)[1]
    hosts.special["/away"] = redirect_to(f"http://localhost:{port}/raw/numpy/numpy/HEAD/README")
    hosts.requests.clear()
    with pytest.raises(OutboundRedirectRefused, match="redirected to another host \\(localhost\\)"):
        outbound_get(f"{hosts.url}/away")
    assert hosts.requests == ["/away"]  # never followed


def test_outbound_refuses_a_body_over_the_limit_declared_or_not(hosts):
    hosts.special["/declared"] = huge_body(3_000_000, declare_length=True)
    hosts.special["/undeclared"] = huge_body(3_000_000, declare_length=False)
    with pytest.raises(OutboundTooLarge, match="3,000,000 bytes; the limit is 1,000,000"):
        outbound_get(f"{hosts.url}/declared", max_bytes=1_000_000)
    with pytest.raises(OutboundTooLarge, match="more than 1,000,000 bytes"):
        outbound_get(f"{hosts.url}/undeclared", max_bytes=1_000_000)


def test_outbound_times_out_on_a_silent_or_dripping_host(hosts):
    hosts.special["/slow"] = slow(2.0)
    hosts.special["/drip"] = drip(every=0.1, count=40)
    with pytest.raises(OutboundTimeout, match="took too long"):
        outbound_get(f"{hosts.url}/slow", timeout=0.3)
    # Each byte comes quickly; the whole answer would take 4 s.
    with pytest.raises(OutboundTimeout, match="took too long"):
        outbound_get(f"{hosts.url}/drip", timeout=0.5)


def test_outbound_says_when_a_host_cannot_be_reached_or_the_url_is_not_http():
    with pytest.raises(OutboundUnreachable, match=r"127\.0\.0\.1 could not be reached"):
        outbound_get(f"http://127.0.0.1:{closed_port()}/x", timeout=1)
    with pytest.raises(OutboundError, match="not an http\\(s\\) URL"):
        outbound_get("file:///etc/passwd")


# --- (1) a token committed to the repository -----------------------------------------------------


def test_repo_token_in_faiross_toml_verifies_the_project(hosts, numpy, user):
    token = verification_token(project=numpy, user=user)
    hosts.raw_files[("numpy", "numpy", "faiross.toml")] = (
        f'verification = "{token}"\nformat = 1\n\n[[entry]]\nrecipient = "project:python"\n'
        "millibips = 1_000_000\n"
    )
    hosts.pypi["numpy"] = pypi_document("numpy", repository="https://github.com/numpy/numpy")

    proof = project_verify_by_check(project=numpy, user=user, method="repo_token")

    numpy.refresh_from_db()
    assert numpy.is_verified and numpy.verification == proof
    assert (proof.method, proof.user) == ("repo_token", user)
    assert proof.evidence["file"] == "faiross.toml"
    assert proof.evidence["repository"] == "github.com/numpy/numpy"
    # PyPI names this repository, so the proof covers the package too.
    assert numpy.purls.get().verified


def test_repo_token_in_well_known_file_but_a_package_naming_another_repo_stays_unproved(
    hosts, numpy, user
):
    token = verification_token(project=numpy, user=user)
    hosts.raw_files[("numpy", "numpy", ".well-known/faiross")] = f"# FairOSS\n{token}\n"
    hosts.pypi["numpy"] = pypi_document("numpy", repository="https://github.com/elsewhere/numpy")

    proof = project_verify_by_check(project=numpy, user=user, method="repo_token")

    assert proof.evidence["file"] == ".well-known/faiross"
    assert not numpy.purls.get().verified
    assert "does not name numpy/numpy" in proof.evidence["purls_not_proved"]["pkg:pypi/numpy"]


def test_repo_token_fails_clearly_when_missing_someone_elses_or_the_host_is_down(
    hosts, numpy, user, settings
):
    with pytest.raises(ValidationError) as missing:
        project_verify_by_check(project=numpy, user=user, method="repo_token")
    assert "The token was not found in numpy/numpy" in missing.value.message_dict["repo_token"][0]
    assert "faiross.toml is not there" in missing.value.message_dict["repo_token"][0]

    # A token is per person: another steward's committed token does not prove alice.
    bob = MembershipFactory(project=numpy).user
    hosts.raw_files[("numpy", "numpy", ".well-known/faiross")] = verification_token(
        project=numpy, user=bob
    )
    with pytest.raises(ValidationError, match="does not contain the token"):
        project_verify_by_check(project=numpy, user=user, method="repo_token")

    settings.FAIROSS_GITHUB_RAW_URL = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ValidationError, match="could not be reached"):
        project_verify_by_check(project=numpy, user=user, method="repo_token")
    numpy.refresh_from_db()
    assert not numpy.is_verified and not ProjectVerification.objects.exists()


def test_only_stewards_may_verify_a_claimed_project(hosts, numpy, other_user):
    with pytest.raises(PermissionDenied):
        project_verify_by_check(project=numpy, user=other_user, method="repo_token")


# --- (2) GitHub admin or maintain permission ------------------------------------------------------


def test_github_maintain_permission_verifies(hosts, numpy, user):
    github_user(user, login="alice-gh", token="tok-alice")
    hosts.github_repos[("numpy", "numpy")] = {
        "tok-alice": {"admin": False, "maintain": True, "push": True, "triage": True, "pull": True}
    }
    hosts.pypi["numpy"] = pypi_document("numpy", repository="https://github.com/numpy/numpy.git")

    proof = project_verify_by_check(project=numpy, user=user, method="github")

    assert proof.evidence["permission"] == "maintain"
    assert proof.evidence["github_login"] == "alice-gh"
    assert numpy.purls.get().verified


def test_github_fails_without_permission_sign_in_or_a_valid_token(hosts, numpy, user):
    with pytest.raises(ValidationError, match="not connected to GitHub"):
        project_verify_by_check(project=numpy, user=user, method="github")
    account = github_user(user, login="alice-gh", token="tok-alice")
    hosts.github_repos[("numpy", "numpy")] = {}  # alice can only read
    with pytest.raises(ValidationError, match="alice-gh has no admin or maintain permission"):
        project_verify_by_check(project=numpy, user=user, method="github")
    SocialToken.objects.filter(account=account).update(token="expired")
    with pytest.raises(ValidationError, match="sign in with GitHub again"):
        project_verify_by_check(project=numpy, user=user, method="github")
    assert not Project.objects.get(pk=numpy.pk).is_verified


# --- (3) the package registry lists the person ----------------------------------------------------


def test_pypi_maintainer_email_verifies_and_proves_the_package(hosts, numpy, user):
    hosts.pypi["numpy"] = pypi_document(
        "numpy", maintainer_email=f"NumPy team <team@numpy.org>, Alice <{user.email.upper()}>"
    )
    proof = project_verify_by_check(project=numpy, user=user, method="registry")
    assert proof.evidence["purls"] == ["pkg:pypi/numpy"]
    assert proof.evidence["matches"]["pkg:pypi/numpy"]["by"] == "email"
    assert numpy.purls.get().verified


def test_npm_maintainer_by_github_login_verifies(hosts, user):
    project = ProjectFactory(slug="express", unverified=True, steward=user)
    ProjectPurl.objects.create(project=project, purl="pkg:npm/%40expressjs/express")
    github_user(user, login="Wesleytodd", token="t")
    hosts.npm["@expressjs/express"] = npm_document(
        "@expressjs/express", maintainers=[("wesleytodd", "wes@example.net")]
    )
    proof = project_verify_by_check(project=project, user=user, method="registry")
    assert proof.evidence["matches"]["pkg:npm/%40expressjs/express"]["by"] == "github_login"
    assert Project.objects.get(pk=project.pk).is_verified


def test_registry_fails_for_someone_not_listed_or_an_unverified_address(hosts, numpy, user):
    EmailAddress.objects.create(user=user, email="alice@numpy.org", verified=False)
    hosts.pypi["numpy"] = pypi_document(
        "numpy", author_email="alice@numpy.org", owners=["rgommers"]
    )
    with pytest.raises(ValidationError) as refused:
        project_verify_by_check(project=numpy, user=user, method="registry")
    assert "PyPI does not list your verified email addresses or your GitHub login" in str(
        refused.value
    )
    hosts.pypi.clear()
    with pytest.raises(ValidationError, match="PyPI has no package 'numpy'"):
        project_verify_by_check(project=numpy, user=user, method="registry")
    numpy.purls.update(purl="pkg:cargo/numpy")
    with pytest.raises(ValidationError, match="lists no PyPI or npm package URL"):
        project_verify_by_check(project=numpy, user=user, method="registry")


# --- (4) staff by hand ----------------------------------------------------------------------------


def test_staff_verify_by_hand_with_a_note_only(numpy, user):
    staff = StaffFactory()
    with pytest.raises(PermissionDenied):
        project_verify_by_staff(project=numpy, staff=user, note="trust me")
    with pytest.raises(ValidationError, match="a note is required"):
        project_verify_by_staff(project=numpy, staff=staff, note="  ")
    proof = project_verify_by_staff(project=numpy, staff=staff, note="Called the maintainers.")
    assert (proof.method, proof.note, proof.user) == ("staff", "Called the maintainers.", staff)
    assert numpy.purls.get().verified


# --- claims of the same package or repository -----------------------------------------------------


def test_two_unverified_claims_coexist_until_one_verifies_then_the_other_is_told(
    hosts, user, other_user, django_capture_on_commit_callbacks
):
    real = project_create(creator=user, slug="pandas", name="pandas", purls=["pkg:pypi/pandas"])
    squatter = project_create(
        creator=other_user, slug="pandas-2", name="pandas", purls=["pkg:pypi/Pandas"]
    )
    assert ProjectPurl.objects.filter(purl="pkg:pypi/pandas").count() == 2

    hosts.pypi["pandas"] = pypi_document("pandas", author_email=user.email)
    with django_capture_on_commit_callbacks(execute=True):
        project_verify_by_check(project=real, user=user, method="registry")

    assert list(squatter.purls.all()) == []
    assert real.purls.get().verified
    [message] = mail.outbox
    assert message.to == [other_user.email]
    assert "'pandas' proved on FairOSS that it owns" in message.body
    assert "kind=ownership" in message.body
    # Now nobody else may list it, and purl: recipients reach the verified owner.
    with pytest.raises(ValidationError, match="belongs to the verified project 'pandas'"):
        project_update(project=squatter, actor=other_user, purls=["pkg:pypi/pandas"])
    assert purl_project(purl="pkg:pypi/pandas") == real
    assert placeholder_project_for_purl(purl="pkg:pypi/pandas") == real


def test_a_proved_repository_cannot_be_taken_by_another_project(hosts, numpy, user, other_user):
    project_verify_by_staff(project=numpy, staff=StaffFactory(), note="known maintainers")
    with pytest.raises(ValidationError) as refused:
        project_create(
            creator=other_user,
            slug="numpy-fork",
            name="NumPy",
            repo_url="https://github.com/NumPy/numpy.git",
        )
    assert "repository of the verified project 'numpy'" in refused.value.message_dict["repo_url"][0]


def test_purl_recipients_reach_the_verified_owner_before_older_claims(hosts, user):
    older = ProjectFactory(unverified=True)
    ProjectPurl.objects.create(project=older, purl="pkg:npm/left-pad")
    owner = ProjectFactory(unverified=True, steward=user)
    ProjectPurl.objects.create(project=owner, purl="pkg:npm/left-pad")
    assert purl_project(purl="pkg:npm/left-pad") == older
    project_verify_by_staff(project=owner, staff=StaffFactory(), note="npm support confirmed")
    assert purl_project(purl="pkg:npm/left-pad") == owner


# --- claiming an unclaimed placeholder ------------------------------------------------------------


def test_claiming_a_placeholder_takes_the_same_proof_and_makes_a_steward(hosts, other_user):
    placeholder = placeholder_project_for_purl(purl="pkg:pypi/left-pad")
    stranger = UserFactory()
    hosts.pypi["left-pad"] = pypi_document(
        "left-pad", author_email=other_user.email, repository="https://github.com/azer/left-pad"
    )
    with pytest.raises(ValidationError, match="does not list your verified email"):
        project_verify_by_check(project=placeholder, user=stranger, method="registry")

    project_verify_by_check(project=placeholder, user=other_user, method="registry")

    placeholder.refresh_from_db()
    assert placeholder.status == "claimed" and placeholder.is_verified
    assert placeholder.repo_url == "https://github.com/azer/left-pad"
    assert list(placeholder.memberships.values_list("user__username", "role")) == [
        (other_user.username, "steward")
    ]


def test_claiming_a_placeholder_by_repo_token_uses_the_repository_the_registry_names(hosts, user):
    placeholder = placeholder_project_for_purl(purl="pkg:pypi/left-pad")
    hosts.pypi["left-pad"] = pypi_document(
        "left-pad", repository="https://github.com/azer/left-pad"
    )
    token = verification_token(project=placeholder, user=user)
    hosts.raw_files[("azer", "left-pad", ".well-known/faiross")] = token
    proof = project_verify_by_check(project=placeholder, user=user, method="repo_token")
    assert proof.evidence["claimed"] is True
    assert proof.evidence["purls"] == ["pkg:pypi/left-pad"]
    assert Project.objects.get(pk=placeholder.pk).status == "claimed"
