"""Benchmarks (`make bench`): the domain in one process, end to end, and the raw ceilings."""
