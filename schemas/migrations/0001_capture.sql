-- jetwire change capture: a transactional outbox written by triggers.
--
-- Any writer (API, psql, migrations) that changes a captured table writes an
-- outbox row in the same transaction; NOTIFY only wakes the bridge up.  The
-- bridge deletes outbox rows once the broker acknowledged them, so the
-- outbox is exactly the set of changes not yet delivered (no cursor over a
-- sequence, which would lose rows that commit out of id order).
--
-- Needs no wal_level=logical, no replication privilege, no superuser.

CREATE SCHEMA IF NOT EXISTS jetwire;

-- Per-entity version, bumped under the row lock of this table, so two
-- transactions changing the same order get strictly increasing versions in
-- commit order.
CREATE TABLE IF NOT EXISTS jetwire.entity_version (
    entity     text   NOT NULL,
    entity_id  text   NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (entity, entity_id)
);

CREATE TABLE IF NOT EXISTS jetwire.outbox (
    id          bigserial   PRIMARY KEY,
    entity      text        NOT NULL,          -- 'order' | 'notification'
    entity_id   text,                          -- NULL is a bad row (dead-lettered)
    version     bigint      NOT NULL,
    op          text        NOT NULL,          -- 'insert' | 'update' | 'delete'
    data        jsonb       NOT NULL,          -- mapped fields, see capture_order()
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS jetwire.dead_letter (
    id          bigserial   PRIMARY KEY,
    outbox_id   bigint      NOT NULL,
    entity      text        NOT NULL,
    entity_id   text,
    version     bigint,
    data        jsonb       NOT NULL,
    reason      text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);

-- Which tables are captured, and how their columns map onto SPEC fields.
CREATE TABLE IF NOT EXISTS jetwire.capture (
    table_name   regclass    PRIMARY KEY,
    entity       text        NOT NULL,
    mapping      jsonb       NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);

-- The bridge's own state: a checkpoint it also publishes retained, to notice
-- a broker that came back from an older snapshot.
CREATE TABLE IF NOT EXISTS jetwire.bridge_state (
    key    text PRIMARY KEY,
    value  text NOT NULL
);
