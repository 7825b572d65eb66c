"""Payouts: payment orders, budgets, public notice, treasury batches and recovery on accounts."""
