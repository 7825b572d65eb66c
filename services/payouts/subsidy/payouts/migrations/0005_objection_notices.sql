-- An objection filed on notice holds an award's orders and goes to the paying bureau to review
-- (a payout notice of kind OBJECTION, its reason naming the objection to dismiss).
ALTER TABLE payout_notices DROP CONSTRAINT payout_notices_kind_check;
ALTER TABLE payout_notices ADD CONSTRAINT payout_notices_kind_check
    CHECK (kind IN ('SENT', 'PAID', 'RETURNED', 'BUDGET_ALERT', 'OBJECTION'));
