"""``python -m local_stripe``: run the local Stripe test server."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .config import DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, ServerConfig, parse_balance
from .pages import TITLE
from .server import LocalStripeServer


def build_parser() -> argparse.ArgumentParser:
    """The command line; webhook settings default to environment variables."""
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m local_stripe", description=TITLE)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)")
    parser.add_argument(
        "--data-file",
        type=Path,
        default=env.get("LOCAL_STRIPE_DATA_FILE"),
        help="keep state in this JSON file across restarts",
    )
    parser.add_argument(
        "--webhook-url",
        default=env.get("LOCAL_STRIPE_WEBHOOK_URL"),
        help="send every event (platform and Connect) here",
    )
    parser.add_argument(
        "--webhook-secret",
        default=env.get("LOCAL_STRIPE_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET,
        help="signing secret for --webhook-url (whsec_...)",
    )
    parser.add_argument(
        "--public-url",
        default=env.get("LOCAL_STRIPE_PUBLIC_URL"),
        help="base of onboarding/checkout links (default: as called)",
    )
    parser.add_argument("--api-key", help="accept only this sk_test_ key (default: any)")
    parser.add_argument("--rate-limit", type=float, help="max API requests per second (429)")
    parser.add_argument(
        "--initial-balance",
        type=parse_balance,
        help="platform balance, e.g. usd=100000000,eur=100000000",
    )
    parser.add_argument(
        "--payout-mode",
        choices=("auto", "manual"),
        default="auto",
        help="auto: payouts are paid at once; manual: via /_test/payouts",
    )
    parser.add_argument(
        "--lenient-params",
        action="store_true",
        help="ignore unknown parameters instead of answering 400",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Turn parsed arguments into a :class:`ServerConfig`.

    Every option sets the field of the same name; one not given keeps the field's default.
    """
    given = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(ServerConfig)
        if getattr(args, field.name, None) is not None
    }
    return ServerConfig(**given)


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); the data file is saved on the way out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = config_from_args(build_parser().parse_args(argv))
    server = LocalStripeServer(config).bind()

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run in another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    # Also on SIGINT even where it was ignored (background jobs, process managers).
    signal.signal(signal.SIGINT, stop)
    print(f"{TITLE}\nAPI base: {server.url}  (stripe.api_base = {server.url!r})", flush=True)
    if config.webhook_url:
        print(f"Webhooks: {config.webhook_url} (secret {config.webhook_secret})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
