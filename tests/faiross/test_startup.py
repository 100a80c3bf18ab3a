"""Start-up refuses to run when a registry that a lower app declared is empty.

Each case starts a real ``manage.py check`` with one higher app left out of INSTALLED_APPS,
so the slot it fills stays empty: the process must fail and name the slot, never start with
"nobody is held" or "no handler for payments".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from faiross.kernel.registry import Hook, Registry, registries_verify

ROOT = Path(__file__).resolve().parents[2]


def _check_without(*apps: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys, django\n"
        "from django.conf import settings\n"
        "import faiross.settings.test as base\n"
        f"drop = {apps!r}\n"
        "names = [a for a in base.INSTALLED_APPS if a not in drop]\n"
        "settings.configure(**{k: getattr(base, k) for k in dir(base) if k.isupper()}"
        " | {'INSTALLED_APPS': names})\n"
        "django.setup()\n"
        "print('started')\n"
    )
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_all_apps_installed_starts():
    result = _check_without()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_without_the_disputes_app_start_up_fails_naming_the_hold_check():
    result = _check_without("disputes", "market", "asks", "devtools")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "payouts.holds.held_recipients_source" in result.stderr
    assert "started" not in result.stdout


def test_without_the_companies_app_start_up_fails_naming_the_payment_handlers():
    result = _check_without("companies", "disputes", "market", "asks", "devtools")
    assert result.returncode != 0
    assert "payouts.stripe_event_handlers['checkout.session.']" in result.stderr
    assert "projects.table_owner_policies['company']" in result.stderr


def test_an_empty_hook_raises_when_called_instead_of_answering():
    from django.core.exceptions import ImproperlyConfigured

    from faiross.kernel import registry

    hook: Hook = Hook("tests.hook", filled_by="tests")
    slots: Registry = Registry("tests.slots", required={"x": "tests"})
    try:
        with pytest.raises(ImproperlyConfigured, match=r"tests\.hook is not set"):
            hook.fn()
        with pytest.raises(ImproperlyConfigured, match=r"tests.hook \(set by tests\)"):
            registries_verify()
        hook.set(lambda: 1)
        with pytest.raises(ImproperlyConfigured, match=r"tests.slots\['x'\]"):
            registries_verify()
        slots.register("x", object())
        registries_verify()
        with pytest.raises(ImproperlyConfigured, match="set twice"):
            hook.set(lambda: 2)
    finally:
        registry._declared.remove(hook)
        registry._declared.remove(slots)
