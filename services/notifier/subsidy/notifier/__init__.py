"""The notifier service: tells enterprises and bureaus about the ledger's decisions."""
