import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from projects import services
from projects.models import Invitation, Membership, Project
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_creator_becomes_steward_and_purls_are_normalised(user):
    project = services.project_create(
        creator=user,
        slug="scikit-learn",
        name="scikit-learn",
        repo_url="https://github.com/scikit-learn/scikit-learn",
        purls=["pkg:pypi/Scikit_Learn@1.5.0", "pkg:npm/%40scope/thing"],
    )
    assert Membership.objects.get(project=project, user=user).role == "steward"
    assert sorted(project.purls.values_list("purl", flat=True)) == [
        "pkg:npm/%40scope/thing",
        "pkg:pypi/scikit-learn",
    ]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"slug": "NumPy"}, "slug", "lower-case"),
        ({"slug": "-bad"}, "slug", "lower-case"),
        ({"slug": "admin"}, "slug", "reserved"),
        ({"repo_url": "github.com/x"}, "repo_url", "not a valid"),
        ({"repo_url": "javascript:alert(1)"}, "repo_url", "not a valid"),
        ({"purls": ["numpy"]}, "purls", "must start with 'pkg:'"),
        ({"purls": ["pkg:/nothing"]}, "purls", "not a valid"),
        ({"name": "  "}, "name", "name"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(user, fields, field, words):
    values = {"slug": "good", "name": "Good", **fields}
    with pytest.raises(ValidationError) as info:
        services.project_create(creator=user, **values)
    assert field in info.value.message_dict
    assert words in " ".join(info.value.message_dict[field])
    assert not Project.objects.exists()


def test_duplicate_slug_and_proved_purl_are_refused(user, project):
    from projects.verification import project_verify_by_staff
    from tests.factories import StaffFactory

    services.project_update(project=project, actor=user, purls=["pkg:pypi/numpy"])
    # A package is one project's alone once that project proved it (unproved claims coexist:
    # tests/projects/test_verification.py).
    project_verify_by_staff(project=project, staff=StaffFactory(), note="PyPI owners checked")
    with pytest.raises(ValidationError) as info:
        services.project_create(creator=user, slug="numpy", name="Other", purls=["pkg:pypi/NumPy"])
    assert "already taken" in str(info.value.message_dict["slug"])
    assert "belongs to the verified project 'numpy'" in str(info.value.message_dict["purls"])
    assert Project.objects.count() == 1


def test_only_stewards_update(project, other_user):
    with pytest.raises(PermissionDenied):
        services.project_update(project=project, actor=other_user, name="Hijacked")
    project.refresh_from_db()
    assert project.name == "NumPy"


def test_invite_existing_user_by_username_then_accept(
    project, user, django_capture_on_commit_callbacks
):
    bob = UserFactory(username="bob")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.project_invite(
            project=project, actor=user, target="bob", role="maintainer"
        )
    assert mail.outbox and "NumPy" in mail.outbox[0].subject
    services.invitation_accept(invitation=invitation, user=bob)
    assert Membership.objects.get(project=project, user=bob).role == "maintainer"


def test_invite_stranger_by_email_twice_is_refused(project, user):
    services.project_invite(project=project, actor=user, target="New@Example.org", role="steward")
    with pytest.raises(ValidationError) as info:
        services.project_invite(
            project=project, actor=user, target="new@example.org", role="steward"
        )
    assert "already been invited" in str(info.value)
    assert Invitation.objects.filter(project=project).count() == 1


def test_email_invitation_is_accepted_by_whoever_verifies_the_address(project, user):
    invitation = services.project_invite(
        project=project, actor=user, target="dana@example.org", role="maintainer"
    )
    stranger = UserFactory(username="eve")
    with pytest.raises(PermissionDenied):
        services.invitation_accept(invitation=invitation, user=stranger)
    dana = UserFactory(username="dana", email="dana@example.org")
    services.invitation_accept(invitation=invitation, user=dana)
    assert Membership.objects.filter(project=project, user=dana).exists()


def test_unknown_username_and_member_invites_are_refused(project, user):
    with pytest.raises(ValidationError, match="no FairOSS user"):
        services.project_invite(project=project, actor=user, target="ghost", role="steward")
    with pytest.raises(ValidationError, match="already a member"):
        services.project_invite(project=project, actor=user, target="alice", role="steward")


def test_non_steward_cannot_invite(project, other_user):
    with pytest.raises(PermissionDenied):
        services.project_invite(
            project=project, actor=other_user, target="x@example.org", role="steward"
        )


def test_last_steward_cannot_be_removed(project, user):
    with pytest.raises(ValidationError, match="last steward"):
        services.membership_remove(project=project, actor=user, user=user)
    second = MembershipFactory(project=project, role="steward").user
    services.membership_remove(project=project, actor=user, user=second)
    assert list(project.memberships.values_list("user__username", flat=True)) == ["alice"]


def test_maintainer_cannot_remove_others_but_may_leave(project, user):
    maint = MembershipFactory(project=project, role="maintainer").user
    with pytest.raises(PermissionDenied):
        services.membership_remove(project=project, actor=maint, user=user)
    services.membership_remove(project=project, actor=maint, user=maint)
    assert not project.memberships.filter(user=maint).exists()
