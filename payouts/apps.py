from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"

    def ready(self) -> None:
        # Importing declares the slots the higher apps fill (checked at start-up).
        from . import holds, queue, receivers, tasks, webhook_handlers  # noqa: F401

        # The operations hand work to the Celery tasks, which call the operations (see queue).
        # The task is looked up at each call, as an import at the call would.
        queue.distribution_run_enqueue.set(lambda pk: tasks.distribution_run_task.delay(pk))
        queue.payout_run_enqueue.set(lambda pk: tasks.payout_run_task.delay(pk))
        queue.payout_send_enqueue.set(lambda pk: tasks.payout_send_task.delay(pk))

        # Explore (a lower app's page) asks what projects received through these hooks.
        from projects import explore

        from . import totals

        explore.explore_money_filter.set(totals.explore_money_filter)
        explore.explore_received_of.set(totals.explore_received_of)
