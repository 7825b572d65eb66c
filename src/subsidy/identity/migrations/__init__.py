"""SQL migrations of the identity component (applied by subsidy.infra.migrate)."""
