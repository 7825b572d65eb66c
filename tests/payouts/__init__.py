"""Tests of the payouts service: its file formats (batch, return, budget) and the bank simulator."""
