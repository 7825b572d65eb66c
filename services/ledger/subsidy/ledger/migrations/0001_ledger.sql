-- The ledger: one row per enterprise (the lock target and the head of its hash chain), the
-- current state of every entitlement, append-only decisions and journal entries, cap
-- counters, the event inbox, rejected events and the decisions outbox.
-- Money is bigint fen everywhere. Entries and decisions are never updated or deleted:
-- corrections are new entries.

-- One row per enterprise. Every writer locks it (SELECT … FOR UPDATE) before touching the
-- enterprise's book, which serialises that enterprise's caps, counters and hash chain.
CREATE TABLE enterprises (
    enterprise_id   text        PRIMARY KEY,
    enterprise_name text        NOT NULL DEFAULT '',
    district        text        NOT NULL DEFAULT '',
    -- Applied events so far: a cached book is current iff it was built at this version.
    version         bigint      NOT NULL DEFAULT 0 CHECK (version >= 0),
    -- Entitlements so far: the next entitlement's creation sequence.
    entitlements    integer     NOT NULL DEFAULT 0 CHECK (entitlements >= 0),
    -- Chain head: the last entry's sequence and hash (all zeros before the first entry).
    head_seq        bigint      NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
    head_hash       text        NOT NULL DEFAULT repeat('0', 64),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Every event the ledger took, applied or rejected: same id and hash again is a no-op, same
-- id with another hash is a conflict (contract.md §1).
CREATE TABLE inbox (
    event_id         text        PRIMARY KEY,
    enterprise_id    text        NOT NULL REFERENCES enterprises,
    payload_hash     text        NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    received_at      timestamptz NOT NULL DEFAULT now(),
    source_topic     text,
    source_partition integer,
    source_offset    bigint
);
-- Loading a book restores the enterprise's applied event ids (a review may refer to them).
CREATE INDEX inbox_enterprise_applied ON inbox (enterprise_id) WHERE outcome = 'applied';

-- Current state of each entitlement (a projection of its decisions). `entitlement` holds the
-- eligibility verdict as protobuf bytes (limits, trace); the other columns are for queries.
CREATE TABLE entitlements (
    entitlement_id   text        PRIMARY KEY,
    enterprise_id    text        NOT NULL REFERENCES enterprises,
    -- Creation order within the enterprise: a book is restored in this order, which the
    -- domain relies on (the item comparison and other-support cuts walk items in it).
    seq              integer     NOT NULL CHECK (seq >= 0),
    event_id         text        NOT NULL,
    rule_id          text        NOT NULL,
    measure          integer     NOT NULL,
    item_id          text        NOT NULL,
    year             integer     NOT NULL,
    occurred_on      date        NOT NULL,
    stage            integer     NOT NULL DEFAULT 0,
    enterprise_name  text        NOT NULL,
    district         text        NOT NULL,
    funding_channels text[]      NOT NULL,
    clause           text        NOT NULL,
    catalog_version  text        NOT NULL,
    status           text        NOT NULL,
    reasons          text[]      NOT NULL,
    entitled_fen     bigint      NOT NULL CHECK (entitled_fen >= 0),
    capped_fen       bigint      NOT NULL CHECK (capped_fen >= 0),
    granted_fen      bigint      NOT NULL CHECK (granted_fen >= 0),
    clawback_fen     bigint      NOT NULL CHECK (clawback_fen >= 0),
    revision         integer     NOT NULL CHECK (revision >= 1),
    annual_cap_fen   bigint,
    item_cap_fen     bigint,
    entitlement      bytea       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise_id, seq),
    -- Money is held only by PAID and PARTIALLY_PAID entitlements.
    CHECK (granted_fen = 0 OR status IN ('PAID', 'PARTIALLY_PAID'))
);
-- ListDecisions / GetStatement / GetTotals filters.
CREATE INDEX entitlements_enterprise_year ON entitlements (enterprise_id, year);
CREATE INDEX entitlements_rule_year ON entitlements (rule_id, year);
CREATE INDEX entitlements_measure_year ON entitlements (measure, year);
CREATE INDEX entitlements_district_year ON entitlements (district, year);
CREATE INDEX entitlements_status ON entitlements (status);

-- Every revision of every entitlement, with the ledger checks that led to it
-- (ExplainDecision) and the Decision message as published (ListDecisions, the outbox).
CREATE TABLE decisions (
    decision_id        text        PRIMARY KEY,  -- <entitlementId>#<revision>
    entitlement_id     text        NOT NULL REFERENCES entitlements,
    revision           integer     NOT NULL CHECK (revision >= 1),
    enterprise_id      text        NOT NULL REFERENCES enterprises,
    rule_id            text        NOT NULL,
    measure            integer     NOT NULL,
    item_id            text        NOT NULL,
    year               integer     NOT NULL,
    district           text        NOT NULL,
    status             text        NOT NULL,
    reasons            text[]      NOT NULL,
    entitled_fen       bigint      NOT NULL,
    granted_fen        bigint      NOT NULL,
    cash_delta_fen     bigint      NOT NULL,
    clawback_fen       bigint      NOT NULL,
    caused_by_event_id text        NOT NULL,
    checks             jsonb       NOT NULL,
    decided_at         timestamptz NOT NULL,
    message            bytea       NOT NULL,
    UNIQUE (entitlement_id, revision)
);
CREATE INDEX decisions_enterprise_year ON decisions (enterprise_id, year);
CREATE INDEX decisions_rule_year ON decisions (rule_id, year);
CREATE INDEX decisions_measure_year ON decisions (measure, year);
CREATE INDEX decisions_district_year ON decisions (district, year);
CREATE INDEX decisions_status ON decisions (status);
CREATE INDEX decisions_caused_by ON decisions (caused_by_event_id);

-- The journal. Signs: GRANT > 0; SUPERSEDE, REVOKE, OTHER_SUPPORT < 0 (the entitlement
-- account: its sum is the entitlement's grantedFen); CLAWBACK > 0 (a receivable: its sum is
-- the clawbackFen). Each enterprise's entries form a hash chain ordered by seq.
CREATE TABLE entries (
    enterprise_id      text        NOT NULL REFERENCES enterprises,
    seq                bigint      NOT NULL CHECK (seq >= 1),
    entitlement_id     text        NOT NULL REFERENCES entitlements,
    kind               text        NOT NULL,
    amount_fen         bigint      NOT NULL,
    rule_id            text        NOT NULL,
    measure            integer     NOT NULL,
    item_id            text        NOT NULL,
    year               integer     NOT NULL,
    district           text        NOT NULL,
    clause             text        NOT NULL,
    funding_channels   text[]      NOT NULL,  -- 责任单位 (G3): totals by channel
    catalog_version    text        NOT NULL,
    caused_by_event_id text        NOT NULL,
    booked_at          timestamptz NOT NULL,
    prev_hash          text        NOT NULL,
    hash               text        NOT NULL,
    PRIMARY KEY (enterprise_id, seq),
    CHECK (
        (kind IN ('GRANT', 'CLAWBACK') AND amount_fen > 0)
        OR (kind IN ('SUPERSEDE', 'REVOKE', 'OTHER_SUPPORT') AND amount_fen < 0)
    )
);
CREATE INDEX entries_entitlement ON entries (entitlement_id);
CREATE INDEX entries_rule_year ON entries (rule_id, year);

-- Cap counters: granted fen per (enterprise, rule, year) and per (enterprise, rule, item),
-- moved by the same deltas as the entries. cap_fen is the cap of the entitlement that last
-- raised the counter. The CHECKs are a backstop: a lost lock or a domain bug fails the
-- transaction instead of paying beyond a cap.
CREATE TABLE annual_usage (
    enterprise_id text   NOT NULL REFERENCES enterprises,
    rule_id       text   NOT NULL,
    year          integer NOT NULL,
    used_fen      bigint NOT NULL,
    cap_fen       bigint,
    PRIMARY KEY (enterprise_id, rule_id, year),
    CHECK (used_fen >= 0 AND (cap_fen IS NULL OR used_fen <= cap_fen))
);

CREATE TABLE item_usage (
    enterprise_id text   NOT NULL REFERENCES enterprises,
    rule_id       text   NOT NULL,
    item_id       text   NOT NULL,
    used_fen      bigint NOT NULL,
    cap_fen       bigint,
    PRIMARY KEY (enterprise_id, rule_id, item_id),
    CHECK (used_fen >= 0 AND (cap_fen IS NULL OR used_fen <= cap_fen))
);

-- Support from other city programmes (就高不重复), one row per otherSupportReceived event.
CREATE TABLE other_support (
    event_id      text        PRIMARY KEY REFERENCES inbox,
    enterprise_id text        NOT NULL REFERENCES enterprises,
    item_id       text        NOT NULL,
    program       text        NOT NULL,
    amount_fen    bigint      NOT NULL CHECK (amount_fen > 0),
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX other_support_enterprise ON other_support (enterprise_id);

-- Events the ledger refused, with the same error strings as `subsidy simulate`. A refusal is
-- identified by the event id and the refused content's hash, so that a redelivery (the same
-- record again, or the same evaluation published twice upstream) never adds a row.
CREATE TABLE rejected_events (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         text        NOT NULL,
    enterprise_id    text        NOT NULL,
    payload_hash     text        NOT NULL,
    error            text        NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now(),
    source_topic     text,
    source_partition integer,
    source_offset    bigint,
    UNIQUE (event_id, payload_hash)
);

-- Decisions to publish on decisions.v1, written in the deciding transaction (no dual write).
CREATE TABLE outbox (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decision_id   text        NOT NULL UNIQUE REFERENCES decisions,
    enterprise_id text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Append-only: entries and decisions refuse UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
