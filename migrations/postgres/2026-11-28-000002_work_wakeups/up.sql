-- Wake-ups for the database queue: new messages and deliveries, and deliveries put back to pending
-- (resend, recover), notify the channel herald_work, which idle workers LISTEN on, so new work
-- starts at once instead of at the next poll. Postgres merges duplicates within a transaction.
CREATE FUNCTION herald_notify_work() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('herald_work', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER message_notify_work AFTER INSERT ON message
    FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_work();
CREATE TRIGGER delivery_notify_work AFTER INSERT ON delivery
    FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_work();
CREATE TRIGGER delivery_reset_notify_work AFTER UPDATE OF status ON delivery
    FOR EACH ROW WHEN (NEW.status = 0 AND OLD.status <> 0) EXECUTE FUNCTION herald_notify_work();
