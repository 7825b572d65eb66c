"""The platform harness, shared by the main job, bench, faults and tests."""

# It starts every service as a process, makes scratch databases and topics, waits for decisions, and
# compares with `subsidy simulate`.
