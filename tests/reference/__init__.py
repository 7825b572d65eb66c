"""Test-only second implementations of the domain, written from the rules text alone."""
