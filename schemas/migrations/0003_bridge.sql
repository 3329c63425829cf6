-- jetwire 3: what the bridge needs to rebuild MQTT state from the tables.
--
--  * entity_version.changed_at: when an order last changed, so a resync can
--    also restore orders that ended recently (their parties keep read access
--    until the retained terminal status expires; SPEC "Lifecycle of access");
--    entity_version.previous_status for the payload a resync republishes.
--  * a third kind of captured table, 'driver': registered for lookups only
--    (no triggers), so the bridge can put the driver's name, rating and
--    vehicle into order/{id}/driver whatever the platform's table looks like.
--  * seed_versions(), resync_sql(), driver_lookup_sql(): the bridge's queries,
--    generated from the registered mappings with format(%I) quoting, so no
--    identifier is ever pasted into SQL by C code.

ALTER TABLE jetwire.entity_version
    ADD COLUMN IF NOT EXISTS changed_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS previous_status text;
-- previous_status: the status before the last status change, so a resync
-- republishes the same {status, previousStatus} pair the change published.

ALTER TABLE jetwire.capture DROP CONSTRAINT IF EXISTS capture_entity_check;
ALTER TABLE jetwire.capture ADD CONSTRAINT capture_entity_check
    CHECK (entity IN ('order', 'notification', 'driver'));

CREATE OR REPLACE FUNCTION jetwire.mapping_fields(entity text, required_only boolean DEFAULT false)
RETURNS text[] LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE entity
        WHEN 'order' THEN CASE WHEN required_only
            THEN ARRAY['id', 'orderNumber', 'status', 'customerId', 'merchantId']
            ELSE ARRAY['id', 'orderNumber', 'status', 'customerId', 'merchantId',
                       'pickupDriverId', 'deliveryDriverId'] END
        WHEN 'notification' THEN CASE WHEN required_only
            THEN ARRAY['id', 'userType', 'userId', 'title', 'body']
            ELSE ARRAY['id', 'userType', 'userId', 'title', 'body', 'data', 'createdAt'] END
        WHEN 'driver' THEN CASE WHEN required_only
            THEN ARRAY['id', 'name']
            ELSE ARRAY['id', 'name', 'rating', 'vehicleType'] END
    END
$$;

-- The version bump now also records when.
CREATE OR REPLACE FUNCTION jetwire.emit_order(op text, key text, n jsonb, o jsonb, m text[], src text)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v   bigint := 0;       -- 0: no key, a bad row the bridge dead-letters
    cur jsonb := COALESCE(n, o);
BEGIN
    IF key IS NOT NULL THEN
        INSERT INTO jetwire.entity_version AS ev (entity, entity_id, version, changed_at, previous_status)
        VALUES ('order', key, 1, now(), o ->> m[2])
        ON CONFLICT (entity, entity_id) DO UPDATE SET version = ev.version + 1, changed_at = now(),
            previous_status = CASE WHEN (n ->> m[2]) IS DISTINCT FROM (o ->> m[2])
                                   THEN o ->> m[2] ELSE ev.previous_status END
        RETURNING ev.version INTO v;
    END IF;
    INSERT INTO jetwire.outbox (entity, entity_id, version, op, source, data)
    VALUES ('order', key, v, op, src, jsonb_build_object(
        'orderNumber',              cur ->> m[1],
        'status',                   n ->> m[2],
        'previousStatus',           o ->> m[2],
        'customerId',               cur ->> m[3],
        'merchantId',               cur ->> m[4],
        'pickupDriverId',           n ->> m[5],
        'deliveryDriverId',         n ->> m[6],
        'previousPickupDriverId',   o ->> m[5],
        'previousDeliveryDriverId', o ->> m[6]));
END
$$;

-- install_capture learns 'driver' (a lookup table: mapping only, no trigger).
CREATE OR REPLACE FUNCTION jetwire.install_capture(tbl regclass, entity text, mapping jsonb)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind    "char";
    cols    text[];
    args    text;
    changed text;
BEGIN
    SELECT relkind INTO kind FROM pg_class WHERE oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p', 'v', 'm', 'f') OR (entity <> 'driver' AND kind NOT IN ('r', 'p')) THEN
        RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
            MESSAGE = format('jetwire: %s is not a table', tbl);
    END IF;
    cols := jetwire.mapping_columns(tbl, entity, mapping);
    SELECT string_agg(quote_literal(c), ', ' ORDER BY i) INTO args
    FROM unnest(cols) WITH ORDINALITY AS a(c, i);

    IF entity = 'driver' AND EXISTS (SELECT 1 FROM jetwire.capture c
                                     WHERE c.entity = 'driver' AND c.table_name <> tbl) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('jetwire: a driver table is already registered (%s); uninstall it first',
                             (SELECT c.table_name FROM jetwire.capture c WHERE c.entity = 'driver'));
    END IF;

    PERFORM jetwire.drop_capture_triggers(tbl);
    IF entity = 'order' THEN
        SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
        INTO changed FROM unnest(cols) AS c WHERE c <> '';
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION jetwire.capture_order(%s)', tbl, args);
        EXECUTE format('CREATE TRIGGER jetwire_capture_update AFTER UPDATE ON %s '
                       'FOR EACH ROW WHEN (%s) EXECUTE FUNCTION jetwire.capture_order(%s)',
                       tbl, changed, args);
        EXECUTE format('CREATE TRIGGER jetwire_capture_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION jetwire.capture_truncate(%L)', tbl, entity);
    ELSIF entity = 'notification' THEN
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION jetwire.capture_notification(%s)', tbl, args);
    END IF;   -- 'driver': looked up by the bridge, nothing to capture

    INSERT INTO jetwire.capture (table_name, entity, mapping) VALUES (tbl, entity, mapping)
    ON CONFLICT (table_name) DO UPDATE
        SET entity = EXCLUDED.entity, mapping = EXCLUDED.mapping, installed_at = now();
END
$$;

-- The column of `field` in a registered mapping, quoted, prefixed by alias;
-- 'NULL' when the optional field is not mapped.
CREATE OR REPLACE FUNCTION jetwire.mapped_column(mapping jsonb, field text, alias text)
RETURNS text LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN mapping ->> field IS NULL THEN 'NULL'
                ELSE format('%I.%I', alias, mapping ->> field) END
$$;

-- Give every captured order that has no version yet (rows that existed
-- before capture was installed, or were loaded with triggers disabled)
-- version 1, so a resync can publish it.  Returns how many were seeded.
CREATE OR REPLACE FUNCTION jetwire.seed_versions() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c     record;
    n     bigint;
    total bigint := 0;
BEGIN
    FOR c IN SELECT table_name, mapping FROM jetwire.capture
             WHERE entity = 'order' AND to_regclass(table_name::text) IS NOT NULL LOOP
        EXECUTE format('INSERT INTO jetwire.entity_version (entity, entity_id, version, changed_at) '
                       'SELECT ''order'', %1$s::text, 1, now() FROM %2$s o '
                       'WHERE %1$s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jetwire.entity_version ev '
                       'WHERE ev.entity = ''order'' AND ev.entity_id = %1$s::text) '
                       'ON CONFLICT DO NOTHING',
                       jetwire.mapped_column(c.mapping, 'id', 'o'), c.table_name);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    RETURN total;
END
$$;

-- The resync query: every order of every captured order table that is
-- active ($1 = the terminal statuses, text[]) or changed within the last
-- $2 seconds (ended recently), with its version and, when a driver table is
-- registered, its drivers' details.  "pending" = the outbox still holds a
-- change of the order: the outbox then publishes its transitions, in order,
-- and the resync only restores what no waiting change will publish -- the
-- status (or driver) as it was just before the oldest waiting change, when
-- no waiting change moves it.  NULL when nothing is captured.
CREATE OR REPLACE FUNCTION jetwire.resync_sql() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c       record;
    d       record;
    parts   text[] := '{}';
    dj      text := '';
    pname   text := 'NULL'; prating text := 'NULL'; pveh text := 'NULL';
    dname   text := 'NULL'; drating text := 'NULL'; dveh text := 'NULL';
BEGIN
    SELECT table_name, mapping INTO d FROM jetwire.capture
    WHERE entity = 'driver' AND to_regclass(table_name::text) IS NOT NULL;
    FOR c IN SELECT table_name, mapping FROM jetwire.capture
             WHERE entity = 'order' AND to_regclass(table_name::text) IS NOT NULL
             ORDER BY table_name::text LOOP
        IF d.table_name IS NOT NULL THEN
            -- Compared as text: the order table's driver columns need not
            -- have the driver table's id type (text vs bigint, uuid ...).
            dj := format(' LEFT JOIN %1$s pd ON %2$s::text = %3$s::text LEFT JOIN %1$s dd ON %4$s::text = %5$s::text',
                         d.table_name,
                         jetwire.mapped_column(d.mapping, 'id', 'pd'),
                         jetwire.mapped_column(c.mapping, 'pickupDriverId', 'o'),
                         jetwire.mapped_column(d.mapping, 'id', 'dd'),
                         jetwire.mapped_column(c.mapping, 'deliveryDriverId', 'o'));
            IF c.mapping ->> 'pickupDriverId' IS NULL OR c.mapping ->> 'deliveryDriverId' IS NULL THEN
                dj := '';     -- cannot join on an unmapped column
            ELSE
                pname := jetwire.mapped_column(d.mapping, 'name', 'pd');
                prating := jetwire.mapped_column(d.mapping, 'rating', 'pd');
                pveh := jetwire.mapped_column(d.mapping, 'vehicleType', 'pd');
                dname := jetwire.mapped_column(d.mapping, 'name', 'dd');
                drating := jetwire.mapped_column(d.mapping, 'rating', 'dd');
                dveh := jetwire.mapped_column(d.mapping, 'vehicleType', 'dd');
            END IF;
        END IF;
        parts := parts || format(
            'SELECT %1$s::text AS id, %2$s::text AS order_number, %3$s::text AS status, '
            '%4$s::text AS customer_id, %5$s::text AS merchant_id, '
            '%6$s::text AS pickup_driver_id, %7$s::text AS delivery_driver_id, '
            'ev.version, ev.changed_at, ev.previous_status, '
            'pend.entity_id IS NOT NULL AS pending, '
            '%9$s::text AS pickup_name, %10$s::float8 AS pickup_rating, %11$s::text AS pickup_vehicle, '
            '%12$s::text AS delivery_name, %13$s::float8 AS delivery_rating, %14$s::text AS delivery_vehicle, '
            'pend.min_version AS pending_min_version, pend.status_change AS pending_status_change, '
            'pend.driver_change AS pending_driver_change '
            'FROM %8$s o%15$s '
            'LEFT JOIN jetwire_pending pend ON pend.entity_id = %1$s::text '
            'LEFT JOIN jetwire.entity_version ev ON ev.entity = ''order'' AND ev.entity_id = %1$s::text '
            'WHERE %3$s::text IS NULL OR %3$s::text <> ALL ($1::text[]) '
            'OR ev.changed_at > now() - make_interval(secs => $2::float8)',
            jetwire.mapped_column(c.mapping, 'id', 'o'),
            jetwire.mapped_column(c.mapping, 'orderNumber', 'o'),
            jetwire.mapped_column(c.mapping, 'status', 'o'),
            jetwire.mapped_column(c.mapping, 'customerId', 'o'),
            jetwire.mapped_column(c.mapping, 'merchantId', 'o'),
            jetwire.mapped_column(c.mapping, 'pickupDriverId', 'o'),
            jetwire.mapped_column(c.mapping, 'deliveryDriverId', 'o'),
            c.table_name,
            pname, prating, pveh, dname, drating, dveh, dj);
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN NULL;
    END IF;
    -- The outbox, one row per order: its oldest waiting version and whether
    -- a waiting change moves the status or a driver (one pass, hash-joined).
    RETURN 'WITH jetwire_pending AS (SELECT ob.entity_id, min(ob.version) AS min_version, '
           'bool_or(ob.op <> ''update'' OR (ob.data->>''status'') IS DISTINCT FROM (ob.data->>''previousStatus'')) AS status_change, '
           'bool_or(ob.op <> ''update'' '
           'OR (ob.data->>''pickupDriverId'') IS DISTINCT FROM (ob.data->>''previousPickupDriverId'') '
           'OR (ob.data->>''deliveryDriverId'') IS DISTINCT FROM (ob.data->>''previousDeliveryDriverId'')) AS driver_change '
           'FROM jetwire.outbox ob WHERE ob.entity = ''order'' AND ob.entity_id IS NOT NULL GROUP BY ob.entity_id) '
           || array_to_string(parts, ' UNION ALL ');
END
$$;

-- The driver lookup: $1 = driver ids (text[]), returns id, name, rating,
-- vehicle_type as text/float8.  The ids are cast to the id column's type
-- so its index is used.  NULL when no driver table is registered.
CREATE OR REPLACE FUNCTION jetwire.driver_lookup_sql() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d   record;
    typ text;
BEGIN
    SELECT table_name, mapping INTO d FROM jetwire.capture
    WHERE entity = 'driver' AND to_regclass(table_name::text) IS NOT NULL;
    IF d.table_name IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT format_type(atttypid, atttypmod) INTO typ FROM pg_attribute
    WHERE attrelid = d.table_name AND attname = d.mapping ->> 'id' AND NOT attisdropped;
    RETURN format('SELECT %1$s::text, %2$s::text, %3$s::float8, %4$s::text FROM %5$s d '
                  'WHERE %1$s = ANY ($1::%6$s[])',
                  jetwire.mapped_column(d.mapping, 'id', 'd'),
                  jetwire.mapped_column(d.mapping, 'name', 'd'),
                  jetwire.mapped_column(d.mapping, 'rating', 'd'),
                  jetwire.mapped_column(d.mapping, 'vehicleType', 'd'),
                  d.table_name, typ);
END
$$;

REVOKE EXECUTE ON FUNCTION
    jetwire.mapping_fields(text, boolean),
    jetwire.emit_order(text, text, jsonb, jsonb, text[], text),
    jetwire.install_capture(regclass, text, jsonb),
    jetwire.mapped_column(jsonb, text, text),
    jetwire.seed_versions(),
    jetwire.resync_sql(),
    jetwire.driver_lookup_sql()
FROM PUBLIC;
