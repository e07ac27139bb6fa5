-- Nothing to undo: next_attempt_at of held deliveries stays valid either way.
SELECT 1;
