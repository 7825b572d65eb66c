"""The platform harness: start every service as a process, scratch databases and topics, wait
for decisions, compare with `subsidy simulate` — shared by the main job, bench, faults and tests."""
