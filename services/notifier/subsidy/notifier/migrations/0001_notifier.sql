-- The notifier: who is subscribed, which decisions arrived, what must be delivered to whom,
-- and every delivery attempt. Tables are prefixed because the database is shared with the
-- ledger and eligibility services.

-- One subscription per subscriber: an enterprise (统一社会信用代码) or a bureau (责任单位).
-- Webhook secrets are deliberately not here: they come from the notifier's configuration.
CREATE TABLE notifier_subscriptions (
    kind        text        NOT NULL CHECK (kind IN ('enterprise', 'bureau')),
    subscriber  text        NOT NULL,
    webhook_url text,
    email       text,
    language    text        NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subscriber),
    CHECK (webhook_url IS NOT NULL OR email IS NOT NULL)
);

-- Every decision consumed, once (decision ids are unique per state change): an audit of what
-- arrived even when nobody was subscribed, and where in Kafka it came from.
CREATE TABLE notifier_decisions (
    decision_id     text        PRIMARY KEY,
    enterprise_id   text        NOT NULL,
    rule_id         text        NOT NULL,
    status          text        NOT NULL,
    payload         bytea       NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per message to send. The unique key is what makes a redelivered decision plan
-- nothing new; subject and body are rendered when planned so every retry sends the same bytes.
CREATE TABLE notifier_deliveries (
    id              bigserial   PRIMARY KEY,
    decision_id     text        NOT NULL REFERENCES notifier_decisions,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'email')),
    recipient       text        NOT NULL,
    -- Where the request goes (the webhook's URL, or 'smtp' for the relay): the per-endpoint
    -- concurrency limit is taken over it so a dead endpoint cannot take every slot.
    endpoint        text        NOT NULL,
    audience        text        NOT NULL CHECK (audience IN ('enterprise', 'bureau')),
    subscriber      text        NOT NULL,
    language        text        NOT NULL CHECK (language IN ('zh', 'en')),
    subject         text        NOT NULL,
    body            text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A claim: while lease_until is in the future the row belongs to leased_by; a crashed
    -- notifier's claims simply expire and are picked up again.
    lease_until     timestamptz,
    leased_by       text,
    last_error      text,
    requeues        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    dead_at         timestamptz,
    UNIQUE (decision_id, channel, recipient)
);

CREATE INDEX notifier_deliveries_due ON notifier_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX notifier_deliveries_dead ON notifier_deliveries (dead_at) WHERE state = 'dead';

-- One row per attempt, kept for operators ("why is this dead?") and for the tests.
CREATE TABLE notifier_attempts (
    delivery_id bigint      NOT NULL REFERENCES notifier_deliveries,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer     NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('sent', 'retry', 'dead')),
    detail      text        NOT NULL DEFAULT ''
);

CREATE INDEX notifier_attempts_delivery ON notifier_attempts (delivery_id);
