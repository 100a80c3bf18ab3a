"""The default payout schedules (editable in admin: Periodic tasks).

Payout runs daily at 04:00 UTC, after the monthly distribution run (03:00 UTC on the 1st);
unclaimed escrow is returned weekly.
"""

from django.db import migrations

SCHEDULES = [
    ("Daily payout run", "payouts.tasks.scheduled_payout_run", {"minute": "0", "hour": "4"}),
    (
        "Weekly return of unclaimed escrow",
        "payouts.tasks.scheduled_escrow_return",
        {"minute": "30", "hour": "4", "day_of_week": "1"},
    ),
]


def forward(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, cron in SCHEDULES:
        fields = {
            "minute": "*",
            "hour": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": "*",
            **cron,
        }
        schedule, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **fields)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": schedule})


def backward(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0006_connect_payouts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forward, backward)]
