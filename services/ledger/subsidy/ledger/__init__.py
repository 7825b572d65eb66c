"""The ledger service: applies evaluated events to enterprise books in PostgreSQL, exactly once."""
