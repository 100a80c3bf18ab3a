"""Stripe-shaped errors.

Every failure the server reports is a :class:`StripeError`, rendered as Stripe's JSON error body
``{"error": {"type", "code", "message", "param", ...}}`` with Stripe's status code, so that the
official library raises the same exception classes it raises against api.stripe.com.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An API error with Stripe's status code and error object.

    ``replayable`` marks errors that Stripe saves under an idempotency key because the endpoint
    had started executing (card declines, insufficient balance). Validation errors, missing
    objects, rate limits and injected faults are not saved: retrying the same key runs again.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        replayable: bool = False,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.replayable = replayable
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body Stripe answers with."""
        error: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }
        if self.code:
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        error.update(self.extra)
        return {"error": error}


def missing_param(name: str) -> StripeError:
    """A required parameter was not sent."""
    return StripeError(
        400, f"Missing required param: {name}.", code="parameter_missing", param=name
    )


def invalid_param(name: str, message: str, code: str = "parameter_invalid_string") -> StripeError:
    """A parameter was sent with a value Stripe would refuse."""
    return StripeError(400, message, code=code, param=name)


def unknown_param(name: str) -> StripeError:
    """A parameter the endpoint does not know (Stripe rejects these rather than ignoring them)."""
    return StripeError(
        400,
        f"Received unknown parameter: {name}. (The FairOSS local Stripe test server does not "
        "support it; start it with --lenient-params to ignore unknown parameters.)",
        code="parameter_unknown",
        param=name,
    )


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    """An id that names no object visible to the caller."""
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def rate_limited() -> StripeError:
    """Stripe's rate limit answer (no side effect; the caller should back off)."""
    return StripeError(
        429,
        "Too many requests hit the API too quickly. We recommend an exponential backoff of "
        "your requests.",
        code="rate_limit",
    )
