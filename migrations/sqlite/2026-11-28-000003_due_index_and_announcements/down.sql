DROP INDEX delivery_due_idx;
