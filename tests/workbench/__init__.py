"""Tests of the bureau workbench: deadlines, queues, counts, search and their metrics."""
