-- First approvals (0006_review_approvals) keep every row they ever had: a correction or a
-- retraction of a first approval settles the waiting row and a new one waits, so an
-- entitlement may have several rows, of which at most one waits.
ALTER TABLE review_approvals DROP CONSTRAINT review_approvals_pkey;
ALTER TABLE review_approvals ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE UNIQUE INDEX review_approvals_one_waiting ON review_approvals (entitlement_id)
    WHERE state = 'waiting';
