-- jetwire change capture, 1/2: the tables.
--
-- A transactional outbox written by row triggers (0002): any writer (API,
-- psql, migrations) that changes a captured table writes an outbox row in
-- the same transaction, so the outbox holds committed changes only and
-- nothing is lost when a process dies.  NOTIFY only wakes the bridge up.
--
-- The bridge DELETES outbox rows once the broker acknowledged them: the
-- outbox is exactly the set of changes not yet delivered.  There is no
-- cursor over outbox.id -- ids are taken before commit, so a smaller id can
-- commit after a larger one was read (see docs/capture.md).
--
-- Needs no wal_level=logical, no replication privilege, no superuser, no
-- extension.  Applied by jetwire-migrate (or the bridge at start), once, in
-- one transaction, by the role that will own the jetwire schema.

-- Not CREATE SCHEMA IF NOT EXISTS: that checks the CREATE privilege on the
-- database first, and a role that was given a pre-made jetwire schema may
-- not have it.  (A new schema grants nothing to PUBLIC.)
DO $$
BEGIN
    IF to_regnamespace('jetwire') IS NULL THEN
        CREATE SCHEMA jetwire;
    END IF;
END
$$;

-- Per-entity version.  The capture trigger bumps it in the writer's
-- transaction, under the row lock of this table: a second transaction that
-- changes the same order waits for the first to commit (or roll back), so
-- versions of one order strictly increase in commit order, without gaps.
-- Rows are kept when an order is deleted, so a re-created id continues.
CREATE TABLE IF NOT EXISTS jetwire.entity_version (
    entity     text   NOT NULL,
    entity_id  text   NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (entity, entity_id)
) WITH (fillfactor = 80);          -- room for HOT updates: version is not indexed

CREATE TABLE IF NOT EXISTS jetwire.outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity      text        NOT NULL CHECK (entity IN ('order', 'notification')),
    entity_id   text,                       -- NULL: a bad row, the bridge dead-letters it
    version     bigint      NOT NULL,       -- per entity; 0 when entity_id is NULL
    op          text        NOT NULL CHECK (op IN ('insert', 'update', 'delete', 'truncate')),
    source      text        NOT NULL,       -- the captured table, schema-qualified
    data        jsonb       NOT NULL,       -- mapped fields, see schemas/README.md
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
-- A queue: rows are inserted and deleted all day.  Vacuum it by row count,
-- not by a fraction of a table that is usually near-empty.

CREATE TABLE IF NOT EXISTS jetwire.dead_letter (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint      NOT NULL,
    entity      text        NOT NULL,
    entity_id   text,
    version     bigint      NOT NULL,
    op          text        NOT NULL,
    source      text        NOT NULL,
    data        jsonb       NOT NULL,
    reason      text        NOT NULL,
    created_at  timestamptz NOT NULL,       -- when the change was captured
    failed_at   timestamptz NOT NULL DEFAULT now()
);

-- Which tables are captured, and how their columns map onto SPEC fields.
-- Written by jetwire.install_capture / uninstall_capture (0002).  The bridge
-- reads it to build its resync queries.
CREATE TABLE IF NOT EXISTS jetwire.capture (
    table_name   regclass    PRIMARY KEY,
    entity       text        NOT NULL CHECK (entity IN ('order', 'notification')),
    mapping      jsonb       NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);

-- The wake-up switch.  While armed, every transaction that writes the outbox
-- also NOTIFYs jetwire_outbox at commit.  NOTIFY serialises the commits of
-- all notifying transactions (a database-wide lock, held through the commit
-- record), which costs a third of the write throughput under load; so the
-- bridge disarms it while it is busy draining the outbox anyway, and arms it
-- again when it goes idle (docs/capture.md, "Waking the bridge").  Armed
-- until a bridge says otherwise.
CREATE TABLE IF NOT EXISTS jetwire.wakeup (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    armed      boolean     NOT NULL DEFAULT true,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO jetwire.wakeup DEFAULT VALUES ON CONFLICT DO NOTHING;

-- The bridge's own small state (e.g. the checkpoint it also publishes
-- retained, to notice a broker that came back from an older snapshot).
CREATE TABLE IF NOT EXISTS jetwire.bridge_state (
    key        text        PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
