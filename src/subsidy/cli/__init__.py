"""The `subsidy` command line: one entry point for every tool of the platform."""
