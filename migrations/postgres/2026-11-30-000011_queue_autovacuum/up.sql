-- delivery and message are queues as much as tables: every delivery is updated twice (claimed,
-- then finished) and every message once (fanned out), and each update leaves a dead row version
-- whose entry in the due index (and the sweeper's) stays until a vacuum. A claim walks those
-- dead entries, so its cost follows the churn since the last vacuum, not the table's size
-- (measured in bench/scale.sh: 0.09 ms after a vacuum, 0.37 ms with 20 000 dead rows beside
-- 12 000 live). By default autovacuum waits for dead rows to reach a fifth of the table: two
-- million of them at ten million rows. Vacuum these two after a fixed number of changes instead.
ALTER TABLE delivery SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
ALTER TABLE message SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
