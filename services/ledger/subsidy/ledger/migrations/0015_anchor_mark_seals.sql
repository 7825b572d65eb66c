-- Each anchor mark sealed by the relay (subsidy.ledger.mark_seals): an HMAC of (chain, seq)
-- under a key derived from the ledger's signing key. The relay takes a mark only when its seal
-- is valid; any other mark counts as none, so the chain is anchored again from its first entry.
-- So the owner (or a login of the ledger's group) can lower a mark by putting back an older
-- sealed one, which only re-signs the same hashes (or, after a rewrite, signs a second hash
-- for an anchored seq, which `ledger verify --anchors` reports), but can no longer raise one:
-- a raised mark would have stopped the relay anchoring that chain at all.
ALTER TABLE anchor_marks ADD COLUMN seal text;
