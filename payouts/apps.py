from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"

    def ready(self) -> None:
        # Importing declares the slots the higher apps fill (checked at start-up).
        from . import holds, receivers, webhook_handlers  # noqa: F401
