from django.apps import AppConfig


class FairossConfig(AppConfig):
    """Installed last, so its ``ready`` runs after every app has filled its registries."""

    name = "faiross"
    verbose_name = "FairOSS"

    def ready(self) -> None:
        from faiross.kernel.page_cache import page_cache_receivers_connect
        from faiross.kernel.registry import registries_verify

        registries_verify()
        page_cache_receivers_connect()  # public pages go stale when their data changes
