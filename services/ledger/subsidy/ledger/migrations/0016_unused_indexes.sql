-- Three indexes that no statement reads, each kept up for every row the worker appends (a
-- decision, an entry or an entitlement for almost every event): part of PostgreSQL's CPU per
-- event, for nothing. None enforces anything (none is unique).
--
-- decisions_caused_by: no statement looks decisions up by the event that caused them (the
-- payouts join the inbox by that id, through the inbox's primary key).
-- entries_rule_year: no statement filters the journal by rule; the audit sums it whole.
-- entitlements_enterprise_year: an enterprise's entitlements are read through the unique
-- index on (enterprise_id, seq), which the batch's book loading walks already; an enterprise
-- holds a handful of them, so a year among them needs no index of its own.
DROP INDEX IF EXISTS decisions_caused_by;
DROP INDEX IF EXISTS entries_rule_year;
DROP INDEX IF EXISTS entitlements_enterprise_year;
