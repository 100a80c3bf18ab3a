import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.utils import timezone, translation

from disputes import selectors, services
from disputes.models import Appeal, AuditEvent, Dispute, DisputeParty, Evidence, Hold
from payouts.models import LedgerTransaction, Posting
from payouts.selectors import account_balance
from projects.models import Membership, TableVersion
from projects.services.tables import EntryInput
from tests.disputes.helpers import file_dispute
from tests.factories import (
    MembershipFactory,
    OmbudsmanFactory,
    ProjectFactory,
    UserFactory,
    credit,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20


def ledger_sums_to_zero():
    rows = Posting.objects.values("currency").annotate(t=Sum("amount"))
    assert all(r["t"] == 0 for r in rows), list(rows)
    per_txn = Posting.objects.values("transaction_id", "currency").annotate(t=Sum("amount"))
    assert all(r["t"] == 0 for r in per_txn)


# --- filing -------------------------------------------------------------------------------


def test_filing_about_a_table_entry_makes_parties_and_mails_them(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        d = file_dispute(world)
    assert d.target == f"table_entry:{world.entry.pk}"
    assert d.table_owner == "project:numpy" and d.project == world.project
    assert d.recipient == "user:bob"
    roles = {(p.user.username if p.user else p.email, p.role) for p in d.parties.all()}
    assert roles == {("carol", "filer"), ("alice", "steward"), ("bob", "recipient")}
    to = sorted(m.to[0] for m in mail.outbox)
    # each party separately; the ombudsmen about the queue
    assert to == sorted(
        [
            "carol@example.com",
            "alice@example.com",
            "bob@example.com",
            "dana@example.com",
            "erin@example.com",
        ]
    )
    party_mail = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert "a dispute was filed" in party_mail.subject and f"/disputes/{d.pk}/" in party_mail.body
    assert d.evidence.get().url == "https://github.com/numpy/numpy/pull/12"
    event = AuditEvent.objects.get(dispute=d)
    assert event.action == "dispute.file" and event.actor_name == "carol"
    assert d.deadline == timezone.localdate() + dt.timedelta(days=30)


def test_email_recipient_without_account_is_a_party_by_address(world):
    from projects.services.tables import table_propose

    v = table_propose(
        owner_key="project:numpy",
        actor=world.alice,
        entries=[EntryInput("email:zed@example.org", 1_000_000)],
    )
    d = file_dispute(world, target=f"table_entry:{v.entries.get().pk}")
    assert d.parties.filter(email="zed@example.org", user=None, role="recipient").exists()


def test_filing_refuses_bad_input_naming_each_field(world):
    with pytest.raises(ValidationError) as exc:
        services.dispute_file(
            filer=world.carol,
            target="table_entry:999999",
            kind="nonsense",
            title="",
            description=" ",
            links=["javascript:alert(1)"],
        )
    errors = exc.value.message_dict
    assert set(errors) == {"target", "kind", "title", "description", "links"}
    assert Dispute.objects.count() == 0 and AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    "target",
    ["", "table_entry", "table_entry:abc", "bogus:1", "project:nope", "agreement:1", "payout:1"],
)
def test_unknown_targets_are_refused_clearly(world, target):
    with pytest.raises(ValidationError) as exc:
        file_dispute(world, target=target)
    assert "target" in exc.value.message_dict


def test_filing_is_rate_limited(world, settings):
    settings.FAIROSS_DISPUTE_FILINGS_PER_HOUR = 2
    file_dispute(world)
    file_dispute(world)
    with pytest.raises(ValidationError) as exc:
        file_dispute(world)
    assert "limit is 2" in exc.value.messages[0]
    assert Dispute.objects.count() == 2


def test_stake_from_filer_needs_a_supported_currency(world):
    with pytest.raises(ValidationError) as exc:
        file_dispute(world, amount_at_stake=5000, currency="xyz")
    assert "currency" in exc.value.message_dict
    d = file_dispute(world, amount_at_stake=5000, currency="usd")
    assert (d.amount_at_stake, d.currency) == (5000, "usd")


# --- evidence files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("shot.png", PNG),
        ("doc.pdf", PDF),
        ("photo.jpg", JPEG),
        ("photo.JPEG", JPEG),
        ("log.txt", b"hello\n"),
    ],
)
def test_accepted_files_are_stored_with_their_type(world, name, content, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    d = file_dispute(world, files=[SimpleUploadedFile(name, content)])
    ev = d.evidence.get(url="")
    assert ev.size == len(content) and ev.filename == name
    assert ev.file.read() == content


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("shot.png", PDF, "not a PNG"),
        ("evil.pdf", b"<html><script>", "not a PDF"),
        ("x.exe", b"MZ\x90\x00", "only PDF"),
        ("noext", PNG, "only PDF"),
        ("bin.txt", b"\x00\x01\x02\xff", "not a TXT"),
        ("empty.txt", b"", "empty"),
    ],
)
def test_bad_files_are_refused_by_content_not_only_name(
    world, name, content, why, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)
    with pytest.raises(ValidationError) as exc:
        file_dispute(world, files=[SimpleUploadedFile(name, content)])
    assert why in " ".join(exc.value.message_dict["files"])
    assert Dispute.objects.count() == 0 and Evidence.objects.count() == 0
    assert not list(tmp_path.rglob("*.*"))


def test_files_over_the_size_and_count_limits_are_refused(world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.FAIROSS_DISPUTE_MAX_FILE_BYTES = 100
    with pytest.raises(ValidationError) as exc:
        file_dispute(world, files=[SimpleUploadedFile("big.txt", b"a" * 101)])
    assert "larger than" in exc.value.message_dict["files"][0]
    settings.FAIROSS_DISPUTE_MAX_FILES = 2
    with pytest.raises(ValidationError) as exc:
        file_dispute(world, files=[SimpleUploadedFile(f"{i}.txt", b"x") for i in range(3)])
    assert "at most 2 files" in exc.value.message_dict["files"][0]


# --- responding ---------------------------------------------------------------------------


def test_parties_and_ombudsmen_respond_others_cannot(world, django_capture_on_commit_callbacks):
    d = file_dispute(world)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        m = services.dispute_respond(dispute=d, author=world.bob, body="It was my parser.")
    assert not m.from_ombudsman
    assert sorted(x.to[0] for x in mail.outbox) == ["alice@example.com", "carol@example.com"]
    m2 = services.dispute_respond(dispute=d, author=world.dana, body="We are looking at it.")
    assert m2.from_ombudsman
    with pytest.raises(PermissionDenied):
        services.dispute_respond(dispute=d, author=UserFactory(username="mallory"), body="hi")
    with pytest.raises(ValidationError):
        services.dispute_respond(dispute=d, author=world.bob, body="  ")


# --- permissions ---------------------------------------------------------------------------


def test_only_ombudsmen_who_are_not_parties_act(world):
    d = file_dispute(world)
    staff_without_perm = UserFactory(username="stan", is_staff=True)
    for actor in (world.bob, staff_without_perm):
        with pytest.raises(PermissionDenied):
            services.hold_place(dispute=d, actor=actor, amount=100, currency="usd", reason="x")
    # An ombudsman who is a party (here: the steward) cannot act on it, nor resolve it.
    insider = OmbudsmanFactory(username="insider")
    MembershipFactory(project=world.project, user=insider, role="steward")
    d2 = file_dispute(world)
    with pytest.raises(PermissionDenied, match="party"):
        services.dispute_resolve(dispute=d2, actor=insider, outcome="rejected", resolution="No.")
    filer_ombudsman = OmbudsmanFactory(username="fil")
    d3 = file_dispute(world, filer=filer_ombudsman)
    with pytest.raises(PermissionDenied):
        services.dispute_resolve(
            dispute=d3, actor=filer_ombudsman, outcome="upheld", resolution="Yes"
        )


# --- holds ------------------------------------------------------------------------------------


def test_hold_moves_available_to_held_and_blocks_payouts(world):
    d = file_dispute(world)
    assert not selectors.recipient_is_held(recipient="user:bob")
    h = services.hold_place(
        dispute=d, actor=world.dana, amount=20_000, currency="usd", reason="At stake"
    )
    assert h.recipient == "user:bob" and h.source == "available"
    assert account_balance(owner="user:bob", purpose="available", currency="usd") == 30_000
    assert account_balance(owner="user:bob", purpose="held", currency="usd") == 20_000
    assert h.ledger_transaction.kind == LedgerTransaction.Kind.HOLD
    assert selectors.recipient_is_held(recipient="user:bob")
    assert list(selectors.holds_for("user:bob")) == [h]
    assert selectors.held_recipients() == {"user:bob"}
    d.refresh_from_db()
    assert d.assigned_to == world.dana and d.status == Dispute.Status.IN_REVIEW
    ledger_sums_to_zero()


def test_hold_cannot_exceed_balance_or_stake(world):
    d = file_dispute(world, amount_at_stake=30_000, currency="usd")
    with pytest.raises(ValidationError, match="money at stake"):
        services.hold_place(dispute=d, actor=world.dana, amount=30_001, currency="usd", reason="x")
    services.hold_place(dispute=d, actor=world.dana, amount=25_000, currency="usd", reason="x")
    with pytest.raises(ValidationError, match="already held"):
        services.hold_place(dispute=d, actor=world.dana, amount=5_001, currency="usd", reason="x")
    with pytest.raises(ValidationError, match="in USD"):
        services.hold_place(dispute=d, actor=world.dana, amount=1, currency="eur", reason="x")
    d2 = file_dispute(world)
    with pytest.raises(ValidationError, match="cannot exceed the balance"):
        services.hold_place(dispute=d2, actor=world.dana, amount=25_001, currency="usd", reason="x")
    assert Hold.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", -1),
        ("amount", 1.5),
        ("amount", True),
        ("currency", "USD!"),
        ("reason", ""),
        ("recipient", "nobody"),
        ("recipient", "user:ghost"),
        ("recipient", "purl:pkg:pypi/x"),
        ("source", "paid_out"),
    ],
)
def test_hold_bad_input_names_the_field(world, field, value):
    d = file_dispute(world)
    args = dict(dispute=d, actor=world.dana, amount=100, currency="usd", reason="r")
    args[field] = value
    with pytest.raises(ValidationError) as exc:
        services.hold_place(**args)
    assert field in exc.value.message_dict
    assert Hold.objects.count() == 0


def test_escrow_and_reserve_are_held_from_their_accounts(world):
    credit("github:octocat", 7_000, purpose="escrow")
    credit("project:numpy", 9_000, purpose="reserve")
    d = file_dispute(world)
    h1, h2 = (
        services.hold_place(
            dispute=d, actor=world.dana, recipient=who, amount=amount, currency="usd", reason="r"
        )
        for who, amount in (("github:octocat", 7_000), ("project:numpy", 4_000))
    )
    assert (h1.source, h2.source) == ("escrow", "reserve")
    assert account_balance(owner="project:numpy", purpose="reserve", currency="usd") == 5_000
    ledger_sums_to_zero()


def test_freeze_holds_no_money_but_stops_payouts(world):
    d = file_dispute(world)
    h = services.hold_place(dispute=d, actor=world.dana, amount=0, currency="usd", reason="freeze")
    assert h.ledger_transaction is None and selectors.recipient_is_held(recipient="user:bob")
    with pytest.raises(ValidationError, match="freeze"):
        services.hold_redirect(hold=h, actor=world.dana, to_recipient="user:carol", reason="r")
    services.hold_release(hold=h, actor=world.dana, reason="done")
    assert not selectors.recipient_is_held(recipient="user:bob")


def test_release_gives_back_exactly_what_remains(world):
    d = file_dispute(world)
    h = services.hold_place(dispute=d, actor=world.dana, amount=20_000, currency="usd", reason="r")
    services.hold_redirect(
        hold=h, actor=world.dana, to_recipient="user:carol", amount=5_000, reason="part"
    )
    services.hold_release(hold=h, actor=world.dana, reason="the rest is bob's")
    h.refresh_from_db()
    assert (h.status, h.remaining) == (Hold.Status.ENDED, 0)
    assert account_balance(owner="user:bob", purpose="available", currency="usd") == 45_000
    assert account_balance(owner="user:carol", purpose="available", currency="usd") == 5_000
    assert account_balance(owner="user:bob", purpose="held", currency="usd") == 0
    with pytest.raises(ValidationError, match="already ended"):
        services.hold_release(hold=h, actor=world.dana, reason="again")
    assert not selectors.recipient_is_held(recipient="user:bob")
    ledger_sums_to_zero()


def test_redirect_is_balanced_and_goes_to_the_right_account(world):
    d = file_dispute(world)
    h = services.hold_place(dispute=d, actor=world.dana, amount=20_000, currency="usd", reason="r")
    before = Posting.objects.aggregate(t=Sum("amount"))["t"]
    mv = services.hold_redirect(
        hold=h, actor=world.dana, to_recipient="github:Carol-Dev", amount=8_000, reason="r"
    )
    assert mv.to_purpose == "escrow" and mv.ledger_transaction.kind == "redirect"
    assert account_balance(owner="github:Carol-Dev", purpose="escrow", currency="usd") == 8_000
    services.hold_redirect(hold=h, actor=world.dana, to_recipient="project:numpy", reason="rest")
    assert account_balance(owner="project:numpy", purpose="reserve", currency="usd") == 12_000
    assert Posting.objects.aggregate(t=Sum("amount"))["t"] == before == 0
    h.refresh_from_db()
    assert h.status == Hold.Status.ENDED
    ledger_sums_to_zero()


@pytest.mark.parametrize(
    ("to", "amount", "field"),
    [
        ("user:bob", None, "to_recipient"),
        ("user:nobody", None, "to_recipient"),
        ("project:nope", None, "to_recipient"),
        ("user:carol", 20_001, "amount"),
        ("user:carol", 0, "amount"),
    ],
)
def test_redirect_refuses_bad_input(world, to, amount, field):
    d = file_dispute(world)
    h = services.hold_place(dispute=d, actor=world.dana, amount=20_000, currency="usd", reason="r")
    n = LedgerTransaction.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.hold_redirect(hold=h, actor=world.dana, to_recipient=to, amount=amount, reason="r")
    assert field in exc.value.message_dict
    assert LedgerTransaction.objects.count() == n


# --- tables and stewards ---------------------------------------------------------------------


def test_correct_table_activates_an_ombudsman_version_and_tells_stewards(
    world, django_capture_on_commit_callbacks
):
    d = file_dispute(world)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        v = services.table_correct(
            dispute=d,
            actor=world.dana,
            entries=[EntryInput("user:carol", 3_000_000), EntryInput("github:octocat", 1_000_000)],
            reason="carol wrote the parser",
        )
    assert v.status == TableVersion.Status.ACTIVE and v.source == f"ombudsman:dispute-{d.pk}"
    assert f"dispute #{d.pk}" in v.note
    world.version.refresh_from_db()
    assert world.version.status == TableVersion.Status.SUPERSEDED
    assert {m.to[0] for m in mail.outbox} >= {
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    }
    ev = AuditEvent.objects.get(action="table.correct")
    assert ev.target == "table:project:numpy" and ev.data["entries"][0] == ["user:carol", 3_000_000]


def test_a_refused_correction_changes_nothing(world):
    d = file_dispute(world)
    with pytest.raises(ValidationError):
        services.table_correct(
            dispute=d, actor=world.dana, entries=[EntryInput("user:ghost", 1)], reason="r"
        )
    with pytest.raises(ValidationError):
        services.table_correct(
            dispute=d, actor=world.dana, entries=[EntryInput("user:carol", 10_000_001)], reason="r"
        )
    assert TableVersion.objects.count() == 1
    assert not AuditEvent.objects.filter(action="table.correct").exists()


def test_entries_parse():
    # Shares are percent, read in the active language (an earlier test's request may leave
    # another one active).
    with translation.override("en"):
        rows = services.entries_parse(text="user:carol 30 wrote it\n# x\n\ngithub:x 0.0001%")
        with pytest.raises(ValidationError, match="line 1"):
            services.entries_parse(text="user:carol lots")
    assert rows == [EntryInput("user:carol", 3_000_000, "wrote it"), EntryInput("github:x", 10, "")]


def test_stewards_change_and_transfer(world):
    d = file_dispute(world, target="project:numpy", kind="governance")
    services.project_stewards_set(
        dispute=d, actor=world.dana, project=world.project, stewards=["carol", "bob"], reason="r"
    )
    roles = dict(
        Membership.objects.filter(project=world.project).values_list("user__username", "role")
    )
    assert roles == {"alice": "maintainer", "bob": "steward", "carol": "steward"}
    services.project_stewards_set(
        dispute=d,
        actor=world.dana,
        project=world.project,
        stewards=["carol"],
        former="remove",
        reason="r",
    )
    roles = dict(
        Membership.objects.filter(project=world.project).values_list("user__username", "role")
    )
    assert roles == {"alice": "maintainer", "carol": "steward"}
    ev = AuditEvent.objects.filter(action="project.stewards").last()
    assert ev.data["before"] == ["bob", "carol"] and ev.data["after"] == ["carol"]
    with pytest.raises(ValidationError):
        services.project_stewards_set(
            dispute=d, actor=world.dana, project=world.project, stewards=[], reason="r"
        )
    with pytest.raises(ValidationError):
        services.project_stewards_set(
            dispute=d, actor=world.dana, project=world.project, stewards=["ghost"], reason="r"
        )


def test_transfer_claims_an_unclaimed_project(world):
    placeholder = ProjectFactory(slug="leftpad", name="left-pad", status="unclaimed")
    d = file_dispute(world, target="project:leftpad", kind="ownership")
    services.project_stewards_set(
        dispute=d, actor=world.dana, project=placeholder, stewards=["carol"], reason="proved"
    )
    placeholder.refresh_from_db()
    assert placeholder.status == "claimed"


# --- resolution and appeals -----------------------------------------------------------------


def test_resolve_needs_no_active_holds_and_mails_everyone(
    world, django_capture_on_commit_callbacks
):
    d = file_dispute(world)
    h = services.hold_place(dispute=d, actor=world.dana, amount=1_000, currency="usd", reason="r")
    with pytest.raises(ValidationError, match="active hold"):
        services.dispute_resolve(dispute=d, actor=world.dana, outcome="upheld", resolution="Yes")
    services.hold_redirect(hold=h, actor=world.dana, to_recipient="user:carol", reason="hers")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_resolve(
            dispute=d, actor=world.dana, outcome="upheld", resolution="Carol wrote it."
        )
    d.refresh_from_db()
    assert d.status == Dispute.Status.RESOLVED and d.resolved_by == world.dana
    assert sorted(m.to[0] for m in mail.outbox) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert all("Carol wrote it." in m.body for m in mail.outbox)
    with pytest.raises(ValidationError):
        services.hold_place(dispute=d, actor=world.erin, amount=1, currency="usd", reason="late")
    with pytest.raises(ValidationError):
        services.dispute_resolve(dispute=d, actor=world.erin, outcome="rejected", resolution="No")


def test_resolve_refuses_unknown_outcome_and_empty_text(world):
    d = file_dispute(world)
    with pytest.raises(ValidationError) as exc:
        services.dispute_resolve(dispute=d, actor=world.dana, outcome="maybe", resolution="x")
    assert "outcome" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.dispute_resolve(dispute=d, actor=world.dana, outcome="upheld", resolution="")
    assert "resolution" in exc.value.message_dict


def test_appeal_once_per_party_within_window_to_another_admin(world, settings):
    d = file_dispute(world)
    services.dispute_resolve(dispute=d, actor=world.dana, outcome="rejected", resolution="No.")
    with pytest.raises(PermissionDenied):
        services.appeal_file(dispute=d, appellant=UserFactory(username="mallory"), reason="x")
    a = services.appeal_file(dispute=d, appellant=world.carol, reason="You missed PR 12.")
    d.refresh_from_db()
    assert d.status == Dispute.Status.APPEALED
    assert a.assigned_to == world.erin and d.assigned_to == world.erin
    with pytest.raises(ValidationError, match="once"):
        services.appeal_file(dispute=d, appellant=world.carol, reason="again")
    # bob may appeal too; it joins the pending appeal
    services.appeal_file(dispute=d, appellant=world.bob, reason="I disagree too")
    # the first resolver cannot decide nor be assigned
    with pytest.raises(PermissionDenied):
        services.appeal_decide(dispute=d, actor=world.dana, decision="confirmed", text="x")
    with pytest.raises(ValidationError):
        services.dispute_assign(dispute=d, actor=world.erin, assignee=world.dana, reason="r")
    with pytest.raises(ValidationError, match="new outcome"):
        services.appeal_decide(dispute=d, actor=world.erin, decision="overturned", text="x")
    services.appeal_decide(
        dispute=d, actor=world.erin, decision="overturned", outcome="upheld", text="PR 12 is hers."
    )
    d.refresh_from_db()
    assert d.status == Dispute.Status.CLOSED and d.outcome == "upheld"
    assert set(Appeal.objects.values_list("decision", flat=True)) == {"overturned"}
    with pytest.raises(ValidationError):
        services.appeal_file(dispute=d, appellant=world.alice, reason="late")


def test_appeal_window_closes(world, settings):
    settings.FAIROSS_DISPUTE_APPEAL_DAYS = 1
    d = file_dispute(world)
    services.dispute_resolve(dispute=d, actor=world.dana, outcome="rejected", resolution="No.")
    Dispute.objects.filter(pk=d.pk).update(resolved_at=timezone.now() - dt.timedelta(days=2))
    with pytest.raises(ValidationError, match="passed"):
        services.appeal_file(dispute=d, appellant=world.carol, reason="late")


def test_appeal_with_no_other_admin_waits_unassigned(world):
    world.erin.is_active = False
    world.erin.save()
    d = file_dispute(world)
    services.dispute_resolve(dispute=d, actor=world.dana, outcome="rejected", resolution="No.")
    a = services.appeal_file(dispute=d, appellant=world.carol, reason="x")
    assert a.assigned_to is None


# --- case management --------------------------------------------------------------------------


def test_assign_deadline_stake_and_notes_are_recorded(world):
    d = file_dispute(world)
    services.dispute_assign(dispute=d, actor=world.dana, assignee=world.erin, reason="her area")
    with pytest.raises(ValidationError):
        services.dispute_assign(dispute=d, actor=world.dana, assignee=world.bob, reason="r")
    with pytest.raises(ValidationError, match="past"):
        services.dispute_deadline_set(
            dispute=d,
            actor=world.dana,
            deadline=timezone.localdate() - dt.timedelta(days=1),
            reason="r",
        )
    services.dispute_deadline_set(
        dispute=d, actor=world.dana, deadline=timezone.localdate(), reason="soon"
    )
    services.dispute_stake_set(
        dispute=d, actor=world.dana, amount=10_000, currency="usd", reason="r"
    )
    services.hold_place(dispute=d, actor=world.dana, amount=8_000, currency="usd", reason="r")
    with pytest.raises(ValidationError, match="already hold"):
        services.dispute_stake_set(
            dispute=d, actor=world.dana, amount=7_000, currency="usd", reason="r"
        )
    note = services.dispute_note_add(dispute=d, actor=world.dana, body="bob seems right")
    actions = list(AuditEvent.objects.filter(dispute=d).values_list("action", "internal"))
    assert ("note.add", True) in actions
    assert [a for a, _ in actions] == [
        "dispute.file",
        "dispute.assign",
        "dispute.deadline",
        "dispute.stake",
        "hold.place",
        "note.add",
    ]
    assert note.body == "bob seems right"


def test_audit_record_keeps_actor_name_and_data(world):
    ev = services.audit_record(actor=world.dana, action="x.y", target="t:1", data={"a": 1})
    assert (ev.actor_id, ev.actor_name, ev.data) == (world.dana.pk, "dana", {"a": 1})
    ev2 = services.audit_record(actor=None, action="system", target="t:2")
    assert ev2.actor_name == "" and ev2.actor_id is None


def test_party_list_has_no_duplicates_when_filer_is_steward(world):
    d = file_dispute(world, filer=world.alice)
    assert list(d.parties.values_list("user__username", "role").order_by("id")) == [
        ("alice", "filer"),
        ("bob", "recipient"),
    ]
    assert DisputeParty.objects.filter(dispute=d, user=world.alice).count() == 1
