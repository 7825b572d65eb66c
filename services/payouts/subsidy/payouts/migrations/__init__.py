"""The payouts' schema migrations (docs/payouts.md)."""
