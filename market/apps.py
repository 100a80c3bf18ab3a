from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Investor market"

    def ready(self) -> None:
        from . import hooks

        hooks.hooks_install()
