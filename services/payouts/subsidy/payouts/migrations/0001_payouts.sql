-- The payouts (docs/payouts.md): double-entry accounts and their transfers (append-only,
-- hash-chained), payment orders and their history, receivables, budget envelopes and loads,
-- treasury batches and the bank's results, and the payouts' own role. Money is bigint fen.
-- The payouts read the ledger's decisions, entries, payee accounts and objections; they never
-- write the ledger's tables.

-- One row: the lock every payouts operation takes first (they run one at a time), and the
-- head of the transfers' hash chain.
CREATE TABLE payout_desk (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    head_seq  bigint  NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
    head_hash text    NOT NULL DEFAULT repeat('0', 64)
);
INSERT INTO payout_desk DEFAULT VALUES;

-- The chart's balance rule of each kind of account, as the pure domain states it too
-- (subsidy.domain.payouts.accounts.RULES): 'credit' accounts hold money for someone and may not
-- go below zero on the credit side, 'debit' accounts are owed to the platform.
CREATE FUNCTION payout_account_rule(account text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE split_part(account, ':', 1)
        WHEN 'budget' THEN 'credit' WHEN 'payable' THEN 'credit'
        WHEN 'in_transit' THEN 'credit' WHEN 'paid_out' THEN 'credit'
        WHEN 'recovery' THEN 'credit'
        WHEN 'appropriation' THEN 'debit' WHEN 'receivable' THEN 'debit'
        WHEN 'collected' THEN 'debit' WHEN 'written_off' THEN 'debit'
    END
$$;

-- Balances are kept by the database from the transfers (a trigger), never written directly;
-- the CHECKs refuse any transfer that breaks an account's rule.
CREATE TABLE payout_accounts (
    account     text   PRIMARY KEY,
    rule        text   NOT NULL CHECK (rule IN ('credit', 'debit')),
    debits_fen  bigint NOT NULL DEFAULT 0 CHECK (debits_fen >= 0),
    credits_fen bigint NOT NULL DEFAULT 0 CHECK (credits_fen >= 0),
    CHECK (rule = payout_account_rule(account)),
    CHECK (rule <> 'credit' OR credits_fen >= debits_fen),
    CHECK (rule <> 'debit' OR debits_fen >= credits_fen)
);

CREATE TABLE transfers (
    seq            bigint      PRIMARY KEY CHECK (seq >= 1),
    transfer_id    text        NOT NULL UNIQUE,
    kind           text        NOT NULL CHECK (kind IN ('BUDGET_LOAD', 'COMMIT', 'SEND', 'PAY',
                       'RETURN', 'CLAWBACK', 'SET_OFF', 'COLLECT', 'WRITE_OFF')),
    debit_account  text        NOT NULL,
    credit_account text        NOT NULL,
    amount_fen     bigint      NOT NULL CHECK (amount_fen > 0),
    ref            text        NOT NULL,
    operation      text        NOT NULL,  -- the command that made it, with who ran it
    booked_at      timestamptz NOT NULL,
    prev_hash      text        NOT NULL,
    hash           text        NOT NULL,
    CHECK (debit_account <> credit_account)
);
CREATE INDEX transfers_ref ON transfers (ref);

-- Posting a transfer moves both balances, as the table's owner: the payouts' role may insert
-- transfers but never touch a balance itself.
CREATE FUNCTION payout_post_transfer() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO payout_accounts (account, rule) VALUES
        (NEW.debit_account, payout_account_rule(NEW.debit_account)),
        (NEW.credit_account, payout_account_rule(NEW.credit_account))
        ON CONFLICT (account) DO NOTHING;
    UPDATE payout_accounts SET debits_fen = debits_fen + NEW.amount_fen
        WHERE account = NEW.debit_account;
    UPDATE payout_accounts SET credits_fen = credits_fen + NEW.amount_fen
        WHERE account = NEW.credit_account;
    RETURN NEW;
END
$$;
CREATE TRIGGER transfers_post AFTER INSERT ON transfers
    FOR EACH ROW EXECUTE FUNCTION payout_post_transfer();

-- What the payouts took in from the ledger: a decision or a clawback entry, once.
CREATE TABLE payout_intake (
    source_id text        PRIMARY KEY,  -- a decision id, or a CLAWBACK entry `<enterprise>#<seq>`
    kind      text        NOT NULL CHECK (kind IN ('grant', 'clawback')),
    taken_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_orders (
    order_id         text    PRIMARY KEY,
    seq              bigint  NOT NULL UNIQUE,
    decision_id      text    NOT NULL REFERENCES payout_intake,
    entitlement_id   text    NOT NULL,
    enterprise_id    text    NOT NULL,
    enterprise_name  text    NOT NULL,
    district         text    NOT NULL,
    rule_id          text    NOT NULL,
    year             integer NOT NULL,
    channel          text    NOT NULL,
    level            text    NOT NULL CHECK (level IN ('city', 'district')),
    amount_fen       bigint  NOT NULL CHECK (amount_fen > 0),
    decided_on       date    NOT NULL,
    notice_until     date,
    state            text    NOT NULL CHECK (state IN ('WAITING', 'PAYABLE', 'IN_BATCH',
                         'PAID_OUT', 'SETTLED')),
    hold             text    CHECK (hold IN ('NEW', 'PUBLICITY', 'OBJECTION', 'BUDGET',
                         'NO_ACCOUNT', 'RETURNED')),
    committed        boolean NOT NULL,
    set_off_fen      bigint  NOT NULL CHECK (set_off_fen BETWEEN 0 AND amount_fen),
    batch_id         text    NOT NULL,
    paid_on          date,
    return_reason    text    NOT NULL,
    returned_account text    NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (decision_id, level),
    CHECK ((state = 'WAITING') = (hold IS NOT NULL)),
    CHECK (state IN ('WAITING', 'PAYABLE') OR committed)
);
CREATE INDEX payment_orders_enterprise ON payment_orders (enterprise_id);
CREATE INDEX payment_orders_state ON payment_orders (channel, state);

-- Every change of an order's state, append-only: the order's story (待推送 → … → 已发放).
CREATE TABLE payment_order_history (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   text        NOT NULL REFERENCES payment_orders,
    state      text        NOT NULL,
    hold       text,
    batch_id   text        NOT NULL,
    set_off_fen bigint     NOT NULL,
    operation  text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_order_history_order ON payment_order_history (order_id);

CREATE TABLE receivables (
    receivable_id   text    PRIMARY KEY,
    seq             bigint  NOT NULL UNIQUE,
    entitlement_id  text    NOT NULL,
    enterprise_id   text    NOT NULL,
    channel         text    NOT NULL,
    year            integer NOT NULL,
    amount_fen      bigint  NOT NULL CHECK (amount_fen > 0),
    raised_on       date    NOT NULL,
    set_off_fen     bigint  NOT NULL CHECK (set_off_fen >= 0),
    collected_fen   bigint  NOT NULL CHECK (collected_fen >= 0),
    written_off_fen bigint  NOT NULL CHECK (written_off_fen >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (set_off_fen + collected_fen + written_off_fen <= amount_fen)
);

-- Budget files as loaded (each a version) and the envelopes they set.
CREATE TABLE budget_loads (
    version   integer     PRIMARY KEY CHECK (version >= 1),
    digest    text        NOT NULL UNIQUE,
    file_name text        NOT NULL,
    lines     jsonb       NOT NULL,
    loaded_by text        NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE budget_envelopes (
    channel    text    NOT NULL,
    year       integer NOT NULL,
    amount_fen bigint  NOT NULL CHECK (amount_fen >= 0),
    version    integer NOT NULL REFERENCES budget_loads,
    PRIMARY KEY (channel, year)
);
CREATE TABLE budget_alerts (
    channel    text        NOT NULL,
    year       integer     NOT NULL,
    threshold  integer     NOT NULL CHECK (threshold IN (80, 100)),
    used_fen   bigint      NOT NULL,
    amount_fen bigint      NOT NULL,
    raised_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, year, threshold)
);

-- Treasury batches, one per channel and day, with their lines as sent.
CREATE TABLE payout_batches (
    batch_id        text        PRIMARY KEY,
    channel         text        NOT NULL,
    pay_date        date        NOT NULL,
    line_count      integer     NOT NULL CHECK (line_count >= 1),
    total_fen       bigint      NOT NULL CHECK (total_fen > 0),
    manifest_sha256 text,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel, pay_date)
);
CREATE TABLE payout_batch_lines (
    batch_id       text    NOT NULL REFERENCES payout_batches,
    line_no        integer NOT NULL CHECK (line_no >= 1),
    order_id       text    NOT NULL REFERENCES payment_orders,
    payee_name     text    NOT NULL,
    enterprise_id  text    NOT NULL,
    bank_name      text    NOT NULL,
    account_number text    NOT NULL,
    amount_fen     bigint  NOT NULL CHECK (amount_fen > 0),
    purpose        text    NOT NULL,
    channel        text    NOT NULL,
    result         text    CHECK (result IN ('PAID', 'RETURNED')),
    return_reason  text    NOT NULL DEFAULT '',
    confirmed_at   timestamptz,
    PRIMARY KEY (batch_id, order_id),
    UNIQUE (batch_id, line_no)
);
-- An order is in one live batch at most: a later batch may take it only once returned.
CREATE UNIQUE INDEX payout_batch_lines_live ON payout_batch_lines (order_id)
    WHERE result IS DISTINCT FROM 'RETURNED';
-- A result, once confirmed, is never changed (the line is otherwise fixed too).
CREATE FUNCTION payout_line_result_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.result IS NOT NULL OR (NEW.batch_id, NEW.line_no, NEW.order_id, NEW.amount_fen,
            NEW.account_number) IS DISTINCT FROM (OLD.batch_id, OLD.line_no, OLD.order_id,
            OLD.amount_fen, OLD.account_number) THEN
        RAISE EXCEPTION 'batch line %/% is confirmed or fixed: % refused', OLD.batch_id,
            OLD.order_id, TG_OP USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER payout_batch_lines_once BEFORE UPDATE ON payout_batch_lines
    FOR EACH ROW EXECUTE FUNCTION payout_line_result_once();

-- Return files applied, by their SHA-256: the same file twice is applied once.
CREATE TABLE payout_return_files (
    sha256     text        PRIMARY KEY,
    batch_id   text        NOT NULL REFERENCES payout_batches,
    file_name  text        NOT NULL,
    lines      integer     NOT NULL,
    applied    integer     NOT NULL,
    applied_by text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Objections a bureau dismissed (the objection itself is the ledger's record).
CREATE TABLE objection_dismissals (
    event_id     text        PRIMARY KEY,
    dismissed_by text        NOT NULL,
    reason       text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);

-- Refunds collected (by the treasury's voucher) and write-off approvals (two people).
CREATE TABLE receivable_refunds (
    voucher       text        PRIMARY KEY,
    receivable_id text        NOT NULL REFERENCES receivables,
    amount_fen    bigint      NOT NULL CHECK (amount_fen > 0),
    recorded_by   text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE write_off_approvals (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receivable_id text        NOT NULL REFERENCES receivables,
    amount_fen    bigint      NOT NULL CHECK (amount_fen > 0),
    principal     text        NOT NULL,
    reason        text        NOT NULL,
    applied       boolean     NOT NULL DEFAULT false,
    at            timestamptz NOT NULL DEFAULT now()
);

-- Append-only: transfers, the orders' history, loads, refunds and the applied return files.
CREATE FUNCTION payouts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payouts table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['transfers', 'payment_order_history', 'budget_loads',
            'receivable_refunds', 'payout_return_files', 'payout_intake'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW'
            ' EXECUTE FUNCTION payouts_append_only()', t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT'
            ' EXECUTE FUNCTION payouts_append_only()', t || '_no_truncate', t);
    END LOOP;
END
$$;
