-- What the enterprises and bureaus are told (a transactional outbox): written in the operation
-- that sent, confirmed or returned an order or crossed an envelope's alert, read by the
-- notifier, which keeps its own place in it. Append-only; `notice_id` is the idempotency key.
CREATE TABLE payout_notices (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id       text        NOT NULL UNIQUE,
    kind            text        NOT NULL CHECK (kind IN ('SENT', 'PAID', 'RETURNED',
                                    'BUDGET_ALERT')),
    channel         text        NOT NULL,
    year            integer     NOT NULL,
    amount_fen      bigint      NOT NULL CHECK (amount_fen >= 0),
    enterprise_id   text        NOT NULL,  -- '' for a bureau's budget alert
    enterprise_name text        NOT NULL,
    order_id        text        NOT NULL,
    batch_id        text        NOT NULL,
    reason          text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER payout_notices_append_only BEFORE UPDATE OR DELETE ON payout_notices
    FOR EACH ROW EXECUTE FUNCTION payouts_append_only();
CREATE TRIGGER payout_notices_no_truncate BEFORE TRUNCATE ON payout_notices
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_append_only();

DO $$
BEGIN
    GRANT SELECT, INSERT ON payout_notices TO subsidy_payouts;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_notifier') THEN
        GRANT SELECT ON payout_notices TO subsidy_notifier;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON payout_notices TO subsidy_auditor;
    END IF;
END
$$;
