DROP TRIGGER delivery_reset_notify_work ON delivery;
DROP TRIGGER delivery_notify_work ON delivery;
DROP TRIGGER message_notify_work ON message;
DROP FUNCTION herald_notify_work();
