ALTER TABLE delivery RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE message RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
