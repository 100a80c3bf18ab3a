from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0006_trace_edges"),
    ]

    operations = [
        migrations.CreateModel(
            name="GraphCache",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(max_length=32, unique=True)),
                ("digest", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
