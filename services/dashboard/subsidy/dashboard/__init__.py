"""The live dashboard: totals and latest decisions read from the ledger, pushed to browsers."""
