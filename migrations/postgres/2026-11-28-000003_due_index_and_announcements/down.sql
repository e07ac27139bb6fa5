CREATE TRIGGER message_notify_work AFTER INSERT ON message
    FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_work();
DROP INDEX delivery_due_idx;
