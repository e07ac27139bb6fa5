-- Bookkeeping for maintenance jobs (pruning), shared by every process that runs them: one row
-- per job. `holder`/`held_until` is a lease, so that of many workers at most one prunes at a
-- time without a leader (a holder that dies lets it lapse); `resume_after` is how far a job that
-- walks a table in id order has got, so the next run starts there instead of at the beginning.
CREATE TABLE maintenance (
    name          VARCHAR(64)  NOT NULL,
    holder        VARCHAR(64)  NOT NULL DEFAULT '',
    held_until    DATETIME(6)  NOT NULL DEFAULT '1970-01-01 00:00:00',
    resume_after  VARCHAR(64)  NOT NULL DEFAULT '',
    CONSTRAINT maintenance_pkey PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO maintenance (name) VALUES ('prune'), ('prune.response_bodies');
