"""Ingestion: feed readers, the IngestService, the `subsidy ingest` client and the feed watcher."""
