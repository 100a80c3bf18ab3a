from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects and share tables"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
