-- The ledger's relay anchors the transfers' chain beside the journal's (subsidy.ledger.anchoring,
-- subsidy.payouts.verify.HEADS_SQL/LINKS_SQL): its role reads the chain head and the transfers'
-- hashes, nothing it could change.
GRANT SELECT ON payout_desk, transfers TO subsidy_ledger_writer;
