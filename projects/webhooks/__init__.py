"""Outgoing webhooks for integrators (issue 12).

A company or project registers endpoints and picks event types; the layer where a thing
happens calls :func:`projects.webhooks.services.event_emit` inside its transaction, which
records one delivery per matching endpoint and hands the sending to Celery once the
transaction commits. :mod:`.delivery` signs and sends (through the one outbound client),
retries with backoff and logs every attempt. docs/webhooks.md is the integrator's guide.
"""
