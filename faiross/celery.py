"""Celery application. With no REDIS_URL (the embedded default) tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faiross.settings.local")

app = Celery("faiross")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
