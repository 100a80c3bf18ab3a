"""The "Broker-dealer" staff group, holding the market.broker_dealer permission."""

from django.db import migrations


def forward(apps, schema_editor):
    # The permission is made here (post_migrate would make it only after every migration).
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ticker, _ = ContentType.objects.get_or_create(app_label="market", model="ticker")
    permission, _ = Permission.objects.get_or_create(
        content_type=ticker,
        codename="broker_dealer",
        defaults={"name": "Acts for the broker-dealer: approve, halt, KYC, wires"},
    )
    group, _ = Group.objects.get_or_create(name="Broker-dealer")
    group.permissions.add(permission)


def backward(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Broker-dealer").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0002_marketcore_timestamps"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
