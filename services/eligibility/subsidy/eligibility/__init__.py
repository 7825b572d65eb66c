"""The eligibility service: reads each enterprise event against the policy catalog."""
