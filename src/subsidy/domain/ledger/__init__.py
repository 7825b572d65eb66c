"""The pure ledger: caps, year limits, 就高不重复, reviews and revocations, per enterprise."""
