from django.apps import AppConfig

from payouts.holds import held_recipients_source


class DisputesConfig(AppConfig):
    name = "disputes"

    def ready(self) -> None:
        from .selectors import held_recipients

        held_recipients_source.set(held_recipients)
