-- jetwire 6: where drivers are, as the bridge persists it from MQTT.
--
-- Drivers publish driver/{id}/location and driver/{id}/presence once, over
-- MQTT (the seed's REST + socket "dual update" is gone); the bridge keeps
-- the latest of each per driver here, written in batches (one statement per
-- batch, latest wins by the driver's own timestamp), and -- when configured
-- -- every batch's positions in the history table, trimmed to a retention.
-- The platform reads these tables (or joins them to its drivers table by
-- id); the bridge reads them to offer orders to nearby online drivers.

CREATE TABLE IF NOT EXISTS jetwire.driver_position (
    driver_id   text        PRIMARY KEY,
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lng         double precision CHECK (lng BETWEEN -180 AND 180),
    heading     double precision,
    speed       double precision,
    accuracy    double precision,
    order_id    text,
    ts          timestamptz,                -- the position's time, from the driver
    presence    text CHECK (presence IN ('online', 'offline')),
    presence_at timestamptz,                -- the presence's time, from the driver
    received_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);   -- rewritten all day: room for HOT updates

CREATE TABLE IF NOT EXISTS jetwire.driver_position_history (
    driver_id   text        NOT NULL,
    ts          timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lng         double precision NOT NULL,
    heading     double precision,
    speed       double precision,
    accuracy    double precision,
    order_id    text,
    PRIMARY KEY (driver_id, ts)
);
CREATE INDEX IF NOT EXISTS driver_position_history_ts_idx ON jetwire.driver_position_history (ts);
