"""Stripe Connect: people's connected accounts, payout runs and transfers, Stripe webhooks,
claims of identities' escrow and the return of unclaimed escrow."""
