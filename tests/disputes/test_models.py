import pytest
from django.db import DatabaseError, connection, transaction

from disputes.models import AuditEvent
from disputes.services import audit_record

pytestmark = pytest.mark.django_db


def test_audit_events_cannot_be_updated_or_deleted():
    ev = audit_record(actor=None, action="test", target="x:1", data={"k": 1})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=ev.pk).update(reason="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=ev.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ev.reason = "edited"
        ev.save()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE disputes_auditevent SET action = 'x'")
    ev.refresh_from_db()
    assert (ev.action, ev.reason, ev.data) == ("test", "", {"k": 1})


def test_trigger_is_installed():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgname = 'disputes_auditevent_append_only'"
        )
        assert cursor.fetchone() is not None
