"""SQL migrations of the ingest component (applied by subsidy.infra.migrate)."""
