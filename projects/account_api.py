"""``POST /api/v1/auth/token/``: a personal API token for a username and password (and the
TOTP code when the account has two-factor authentication), throttled per client address and
per username."""

from __future__ import annotations

import hashlib
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, throttling
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from faiross.kernel.api_fields import NoNulCharField
from faiross.kernel.http import client_ip

from .services.tokens import NAME_MAX_LENGTH, TokenRefused, api_token_issue


class TokenInput(serializers.Serializer):
    """What a script sends for a token."""

    username = NoNulCharField(max_length=254, help_text="Username or email address.")
    password = NoNulCharField(max_length=4096, trim_whitespace=False)
    code = NoNulCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The current code of your authenticator app (accounts with two-factor "
        "authentication only).",
    )
    name = NoNulCharField(
        max_length=NAME_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="What the token is for, shown on the settings page.",
    )


class _RateFromSettings(throttling.SimpleRateThrottle):
    """A throttle whose rate is read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` when it
    is used, not when the class is defined, so a changed setting (tests) takes effect."""

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return None if rate is None else str(rate)

    def get_ident(self, request: Request) -> str:
        # The trusted-proxy rule of signature records, not DRF's (which believes any
        # X-Forwarded-For when NUM_PROXIES is unset).
        return client_ip(request._request) or "unknown"


class TokenClientThrottle(_RateFromSettings):
    """Token requests per client address."""

    scope = "auth_token"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUsernameThrottle(_RateFromSettings):
    """Token requests per username, whatever address they come from (password guessing
    spread over many addresses)."""

    scope = "auth_token_username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None  # nothing to count: the request is refused as incomplete anyway
        # Hashed: the username is whatever the client sent (any length, control characters),
        # and cache keys must stay short and printable.
        ident = hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


TokenAnswer = inline_serializer(
    name="ApiTokenCreated",
    fields={
        "token": serializers.CharField(help_text="The key: shown only this once."),
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "prefix": serializers.CharField(),
        "second_factor": serializers.BooleanField(),
        "created_at": serializers.DateTimeField(),
    },
)


class ApiTokenView(APIView):
    """Create a personal API token: ``{"username", "password", "code"?, "name"?}`` →
    ``{"token", ...}``. The key is shown only in this answer; list and revoke tokens on the
    settings page."""

    authentication_classes: list[type] = []  # credentials are in the body
    permission_classes = [AllowAny]
    throttle_classes = [TokenClientThrottle, TokenUsernameThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # A 401 here says which scheme the answer is for (and stays a 401 without
        # authentication classes; DRF would turn it into a 403).
        return 'Token realm="api"'

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenInput,
        responses={
            200: TokenAnswer,
            400: OpenApiResponse(description="A field is missing or of the wrong type."),
            401: OpenApiResponse(description="Wrong credentials, or the TOTP code is needed."),
            403: OpenApiResponse(description="The account's email address is not verified."),
            429: OpenApiResponse(description="Too many requests: see Retry-After."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            token, key = api_token_issue(
                request=request._request,
                username=values["username"],
                password=values["password"],
                code=values.get("code", ""),
                name=values.get("name", ""),
            )
        except TokenRefused as exc:
            detail: Any = {exc.field: [exc.message]} if exc.field else exc.message
            raise exceptions.AuthenticationFailed(detail) from None
        return Response(
            {
                "token": key,
                "id": token.pk,
                "name": token.name,
                "prefix": token.prefix,
                "second_factor": token.second_factor,
                "created_at": token.created_at,
            },
            status=status.HTTP_200_OK,
        )
