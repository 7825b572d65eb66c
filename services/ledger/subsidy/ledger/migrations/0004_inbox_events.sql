-- The ledger keeps each event it takes, as it decided it, and the order it took them in, so
-- that the platform's real history can be decided again under another policy (`subsidy policy
-- diff --from-ledger`). The ledger is the one place that knows what was decided and in which
-- order: the ingest API keeps only ids and hashes, and enterprise-events.v1 expires with its
-- retention and also holds events the ledger has not (yet) taken.

-- The event in the contract's JSON (docs/contract.md §1), written exactly as its content hash
-- is computed: sha256(event) = payload_hash, so a stored event can be checked against the
-- hash it was decided under. Text, not jsonb (which would reorder keys and break that), and
-- not protobuf (encoding it through the JSON mapping costs the worker ~9x more per event).
-- NULL for events taken before this migration.
ALTER TABLE inbox ADD COLUMN event text;

-- Arrival order: a batch's rows are copied in the order they were decided, and a batch
-- writes only after it holds its enterprises' locks, so within one enterprise a later event
-- always draws a larger number. Filled by a default (no writer names the column); NULL for
-- events taken before this migration, which keep (received_at, source offset) as their order.
-- Added without a default first, then given one: existing rows stay NULL and the table is not
-- rewritten.
CREATE SEQUENCE inbox_arrival_seq;
ALTER TABLE inbox ADD COLUMN arrival bigint;
ALTER SEQUENCE inbox_arrival_seq OWNED BY inbox.arrival;
ALTER TABLE inbox ALTER COLUMN arrival SET DEFAULT nextval('inbox_arrival_seq');
