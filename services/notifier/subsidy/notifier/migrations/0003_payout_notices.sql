-- The payouts' notices (their transactional outbox `payout_notices`: an order sent, paid or
-- returned, a budget alert) reach the notifier by polling, not Kafka. What the notifier took
-- in is kept here, once per notice: the audit of what arrived even when nobody was subscribed,
-- and the notifier's own place in the outbox (its cursor is the highest `source_id`). No
-- foreign key to payout_notices: the payouts are migrated after the notifier, and each
-- component keeps to its own tables.
CREATE TABLE notifier_payout_notices (
    notice_id     text        PRIMARY KEY,  -- the payouts' idempotency key
    source_id     bigint      NOT NULL UNIQUE,  -- payout_notices.id: the cursor
    kind          text        NOT NULL,
    channel       text        NOT NULL,
    year          integer     NOT NULL,
    amount_fen    bigint      NOT NULL,
    enterprise_id text        NOT NULL,  -- '' for a budget alert
    order_id      text        NOT NULL,
    batch_id      text        NOT NULL,
    created_at    timestamptz NOT NULL,  -- when the payouts wrote it
    received_at   timestamptz NOT NULL DEFAULT now()
);

-- A delivery is about a decision or about a payout notice, never both: the notice's
-- deliveries have their own unique key, so a notice read twice (a restart, two notifiers)
-- plans each recipient's message once, as decisions do.
ALTER TABLE notifier_deliveries
    ALTER COLUMN decision_id DROP NOT NULL,
    ADD COLUMN notice_id text REFERENCES notifier_payout_notices,
    ADD CONSTRAINT notifier_deliveries_one_source
        CHECK ((decision_id IS NULL) <> (notice_id IS NULL)),
    ADD CONSTRAINT notifier_deliveries_notice_once UNIQUE (notice_id, channel, recipient);

-- SELECT and INSERT only: a notice taken in is never changed. SELECT on payout_notices is the
-- payouts' grant (their 0003_payout_notices.sql), made when this role exists.
GRANT SELECT, INSERT ON notifier_payout_notices TO subsidy_notifier;
