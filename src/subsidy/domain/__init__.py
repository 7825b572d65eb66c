"""The pure domain: events, the policy catalog, eligibility and ledger decisions."""

# Nothing here imports Kafka, gRPC or a database driver, so `subsidy simulate` and the services run
# exactly the same code.
