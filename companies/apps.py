from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "companies"
    verbose_name = "Companies and agreements"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
