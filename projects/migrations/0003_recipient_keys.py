import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    RecipientKey = apps.get_model("projects", "RecipientKey")
    TableEntry = apps.get_model("projects", "TableEntry")
    keys = {}
    for entry in TableEntry.objects.all().iterator():
        if entry.recipient not in keys:
            keys[entry.recipient] = RecipientKey.objects.get_or_create(key=entry.recipient)[0].pk
        TableEntry.objects.filter(pk=entry.pk).update(recipient_key_id=keys[entry.recipient])


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_share_tables")]

    operations = [
        migrations.CreateModel(
            name="RecipientKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=300, unique=True)),
            ],
        ),
        migrations.AddField(
            model_name="tableentry",
            name="recipient_key",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="projects.recipientkey",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tableentry",
            name="recipient_key",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="projects.recipientkey",
            ),
        ),
    ]
