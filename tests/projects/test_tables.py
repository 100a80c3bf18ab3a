import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projects import services
from projects.models import Project, ShareTable, TableVersion
from projects.services.tables import EntryInput, default_table_entries, table_roles
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.thread_helpers import run_at_once

pytestmark = pytest.mark.django_db


def E(recipient, millibips, note=""):
    return EntryInput(recipient=recipient, millibips=millibips, note=note)


@pytest.fixture
def deps(db):
    return [ProjectFactory(slug=s) for s in ("python", "openblas")]


def test_sole_steward_proposal_is_active_at_once(project, user, deps):
    version = services.table_propose(
        owner_key="project:numpy",
        actor=user,
        entries=[E("project:python", 4_000_000), E("github:octocat", 1_000_000)],
    )
    assert version.status == "active"
    assert version.reserve_millibips == 5_000_000
    assert ShareTable.objects.get(owner_key="project:numpy").active_version == version


def test_majority_of_stewards_needed_and_history_kept(project, user, deps):
    second = MembershipFactory(project=project, role="steward").user
    third = MembershipFactory(project=project, role="steward").user
    v1 = services.table_propose(
        owner_key="project:numpy", actor=user, entries=[E("project:python", 1)]
    )
    assert v1.status == "proposed"  # 1 of 3 approvals; majority is 2
    v1 = services.table_version_approve(version=v1, actor=second)
    assert v1.status == "active"
    v2 = services.table_propose(
        owner_key="project:numpy", actor=third, entries=[E("project:openblas", 2)]
    )
    assert v2.status == "proposed"
    v2 = services.table_version_approve(version=v2, actor=user)
    assert v2.status == "active"
    v1.refresh_from_db()
    assert v1.status == "superseded"
    assert list(
        TableVersion.objects.filter(table__owner_key="project:numpy").values_list(
            "number", flat=True
        )
    ) == [2, 1]


def test_maintainer_proposes_but_cannot_approve_strangers_do_nothing(project, user, deps):
    maint = MembershipFactory(project=project, role="maintainer").user
    v = services.table_propose(
        owner_key="project:numpy", actor=maint, entries=[E("project:python", 5)]
    )
    assert v.status == "proposed"
    with pytest.raises(PermissionDenied):
        services.table_version_approve(version=v, actor=maint)
    stranger = UserFactory(username="stranger")
    with pytest.raises(PermissionDenied):
        services.table_propose(owner_key="project:numpy", actor=stranger, entries=[])
    with pytest.raises(PermissionDenied):
        services.table_version_approve(version=v, actor=stranger)
    assert services.table_version_approve(version=v, actor=user).status == "active"


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([E("project:python", 6_000_000), E("github:x", 4_000_001)], "more than 100%"),
        ([E("project:python", 0)], "must be positive"),
        ([E("project:python", -5)], "must be positive"),
        ([E("project:numpy", 5)], "own owner"),
        ([E("project:python", 5), E("project:python", 6)], "already in row 1"),
        ([E("nobody:x", 5)], "row 1"),
        ([E("project:ghost", 5)], "no project 'ghost'"),
        ([E("user:ghost", 5)], "no FairOSS user"),
        ([E("purl:not-a-purl", 5)], "row 1"),
        ([E(f"github:user{i}", 1) for i in range(501)], "at most 500 rows"),
    ],
)
def test_bad_tables_are_refused_and_nothing_is_stored(project, user, deps, entries, words):
    with pytest.raises(ValidationError) as info:
        services.table_propose(owner_key="project:numpy", actor=user, entries=entries)
    assert words in " ".join(info.value.message_dict["entries"])
    assert not TableVersion.objects.exists()


def test_purl_creates_unclaimed_placeholder_and_rolls_back_on_error(project, user):
    with pytest.raises(ValidationError):
        services.table_propose(
            owner_key="project:numpy",
            actor=user,
            entries=[E("purl:pkg:pypi/Cython", 5), E("project:ghost", 1)],
        )
    assert not Project.objects.filter(status="unclaimed").exists()
    v = services.table_propose(
        owner_key="project:numpy", actor=user, entries=[E("purl:pkg:pypi/Cython", 5)]
    )
    placeholder = Project.objects.get(status="unclaimed")
    assert placeholder.purls.get().purl == "pkg:pypi/cython"
    assert v.entries.get().recipient == f"project:{placeholder.slug}"
    # The same purl later resolves to the same project.
    v2 = services.table_propose(
        owner_key="project:numpy", actor=user, entries=[E("purl:pkg:pypi/cython", 7)]
    )
    assert v2.entries.get().project == placeholder


def test_closed_cycle_is_refused_with_its_members_named(project, user):
    scipy = ProjectFactory(slug="scipy")
    MembershipFactory(project=scipy, user=user, role="steward")
    services.table_propose(
        owner_key="project:numpy", actor=user, entries=[E("project:scipy", 10_000_000)]
    )
    with pytest.raises(ValidationError) as info:
        services.table_propose(
            owner_key="project:scipy", actor=user, entries=[E("project:numpy", 10_000_000)]
        )
    message = " ".join(info.value.message_dict["entries"])
    assert "close a cycle" in message and "numpy" in message and "scipy" in message
    # An ordinary cycle that keeps something is fine.
    v = services.table_propose(
        owner_key="project:scipy", actor=user, entries=[E("project:numpy", 9_999_999)]
    )
    assert v.status == "active"


def test_quorum_rules(project, user):
    MembershipFactory(project=project, role="steward")
    with pytest.raises(ValidationError):
        services.table_set_quorum(owner_key="project:numpy", actor=user, quorum=3)
    services.table_set_quorum(owner_key="project:numpy", actor=user, quorum=1)
    v = services.table_propose(owner_key="project:numpy", actor=user, entries=[E("github:x", 1)])
    assert v.status == "active"


def test_default_table_splits_over_known_dependencies(project, user, settings):
    settings.FAIROSS_DEFAULT_DEPENDENCY_SHARE = 1_000_000
    rows, _warnings = services.tables.manifest_dependency_rows(
        owner_key="project:numpy",
        filename="requirements.txt",
        content=b"requests==2.0\nflask\nclick\n",
        share_millibips=10,
        policy="even",
    )
    services.tables.known_dependencies_record(project=project, rows=rows)
    entries = default_table_entries(project=project)
    assert sum(m for _, m in entries) == 1_000_000
    assert sorted(m for _, m in entries) == [333_333, 333_333, 333_334]


def test_import_faiross_toml_round_trip(project, user, deps):
    from projects.faiross_toml import table_to_toml

    v = services.table_propose(
        owner_key="project:numpy",
        actor=user,
        entries=[E("project:python", 4_000_000), E("email:a@b.org", 123)],
    )
    text = table_to_toml(
        owner="project:numpy",
        version=v.number,
        entries=[(e.recipient, e.millibips) for e in v.entries.all()],
    )
    v2, warnings = services.table_import_file(
        owner_key="project:numpy", actor=user, filename="faiross.toml", content=text.encode()
    )
    assert [(e.recipient, e.millibips) for e in v2.entries.all()] == [
        (e.recipient, e.millibips) for e in v.entries.all()
    ]
    assert warnings == []


def test_import_manifest_keeps_people_and_replaces_dependencies(project, user, deps):
    services.table_propose(
        owner_key="project:numpy",
        actor=user,
        entries=[E("project:python", 4_000_000), E("github:octocat", 1_000_000)],
    )
    v, _ = services.table_import_file(
        owner_key="project:numpy",
        actor=user,
        filename="requirements.txt",
        content=b"cython>=3\nmeson-python\n",
        share_millibips=3_000_000,
        policy="even",
    )
    rows = {e.recipient: e.millibips for e in v.entries.all()}
    assert rows.pop("github:octocat") == 1_000_000
    assert sum(rows.values()) == 3_000_000 and len(rows) == 2
    assert v.reserve_millibips == 6_000_000


def test_bad_file_is_a_clear_error(project, user):
    with pytest.raises(ValidationError) as info:
        services.table_import_file(
            owner_key="project:numpy", actor=user, filename="faiross.toml", content=b"[[entry]\n"
        )
    assert "file" in info.value.message_dict
    with pytest.raises(ValidationError):
        services.table_import_file(
            owner_key="project:numpy", actor=user, filename="x.exe", content=b"MZ\x00"
        )
    assert not TableVersion.objects.exists()


def test_roles_for_anonymous(project):
    from django.contrib.auth.models import AnonymousUser

    roles = table_roles(owner_key="project:numpy", user=AnonymousUser())
    assert (roles.can_propose, roles.can_approve, roles.approvers) == (False, False, 1)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["github:a", "github:b", "email:c@d.org", "project:python"]),
            st.integers(-10, 10_000_001),
        ),
        max_size=6,
    )
)
def test_any_accepted_table_sums_to_at_most_100_percent(project, user, deps, rows):
    try:
        v = services.table_propose(
            owner_key="project:numpy", actor=user, entries=[E(r, m) for r, m in rows]
        )
    except ValidationError:
        return
    total = sum(e.millibips for e in v.entries.all())
    assert total <= 10_000_000
    assert v.reserve_millibips == 10_000_000 - total
    assert all(e.millibips > 0 for e in v.entries.all())


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_activate_one_version_at_a_time():
    a, b = UserFactory(username="a"), UserFactory(username="b")
    p = ProjectFactory(slug="racy")
    MembershipFactory(project=p, user=a, role="steward")
    MembershipFactory(project=p, user=b, role="steward")
    services.table_set_quorum(owner_key="project:racy", actor=a, quorum=2)
    v1 = services.table_propose(owner_key="project:racy", actor=a, entries=[E("github:one", 1)])
    v2 = services.table_propose(owner_key="project:racy", actor=a, entries=[E("github:two", 2)])
    outcomes = run_at_once(
        [lambda v=v: services.table_version_approve(version=v, actor=b) for v in (v1, v2)]
    )
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert (
        TableVersion.objects.filter(table__owner_key="project:racy", status="active").count() == 1
    )
    assert (
        TableVersion.objects.filter(table__owner_key="project:racy", status="superseded").count()
        == 1
    )
