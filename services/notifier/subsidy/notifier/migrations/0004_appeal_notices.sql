-- The ledger's appeal notices (appeals.v1: an appeal filed, dismissed, upheld with the source's
-- correction as the remedy, or reopened), each taken in once, when the ledger's signature on it
-- checks: the audit of what arrived even when nobody was subscribed, and where in Kafka it came
-- from. A notice read again (a redelivery, a rebalance, two notifiers) plans nothing new.
CREATE TABLE notifier_appeal_notices (
    notice_id       text        PRIMARY KEY,  -- <appealId>#<kind>: the ledger's idempotency key
    appeal_id       text        NOT NULL,
    kind            text        NOT NULL,
    enterprise_id   text        NOT NULL,
    rule_id         text        NOT NULL,
    payload         bytea       NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

-- A delivery is about exactly one decision, payout notice or appeal notice; an appeal notice's
-- deliveries have their own unique key, so each recipient's message is planned once.
ALTER TABLE notifier_deliveries
    ADD COLUMN appeal_notice_id text REFERENCES notifier_appeal_notices,
    DROP CONSTRAINT notifier_deliveries_one_source,
    ADD CONSTRAINT notifier_deliveries_one_source
        CHECK (num_nonnulls(decision_id, notice_id, appeal_notice_id) = 1),
    ADD CONSTRAINT notifier_deliveries_appeal_notice_once
        UNIQUE (appeal_notice_id, channel, recipient);

-- SELECT and INSERT only: a notice taken in is never changed.
GRANT SELECT, INSERT ON notifier_appeal_notices TO subsidy_notifier;
