"""The payouts service: treasury batch files, bank returns, budget files, the store and its CLI."""
