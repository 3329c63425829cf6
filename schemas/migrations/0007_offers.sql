-- jetwire 7: offering orders to nearby drivers.
--
-- When an order reaches a configured status (the bridge's offer_statuses),
-- online drivers near the merchant's pickup point get an offer.  Two more
-- lookup-only mappings feed it: 'merchant' (where its pickup point is) and
-- the driver table's optional 'availability' column.  Positions and
-- presence come from jetwire.driver_position (0006).  offer_sql() is the
-- query, generated from the mappings:
--
--   $1 merchant id (text), $2 radius km, $3 at most this many drivers,
--   $4 positions older than this many seconds are ignored,
--   $5 availability values that may take offers (text[]; ignored when the
--      driver table maps no availability)
--   -> driver_id, distance_km, pickup_lat, pickup_lng, nearest first.
-- NULL when no merchant table is registered.

ALTER TABLE jetwire.capture DROP CONSTRAINT IF EXISTS capture_entity_check;
ALTER TABLE jetwire.capture ADD CONSTRAINT capture_entity_check
    CHECK (entity IN ('order', 'notification', 'driver', 'merchant'));

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
            ELSE ARRAY['id', 'name', 'rating', 'vehicleType', 'availability'] END
        WHEN 'merchant' THEN ARRAY['id', 'pickupLat', 'pickupLng']
    END
$$;

-- Lookup-only entities: registered, no trigger; one table each.
CREATE OR REPLACE FUNCTION jetwire.install_capture(tbl regclass, entity text, mapping jsonb)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind    "char";
    cols    text[];
    args    text;
    changed text;
    fn      text;
    lookup  boolean := entity IN ('driver', 'merchant');
BEGIN
    SELECT relkind INTO kind FROM pg_class WHERE oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p', 'v', 'm', 'f') OR (NOT lookup AND kind NOT IN ('r', 'p')) THEN
        RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
            MESSAGE = format('jetwire: %s is not a table', tbl);
    END IF;
    cols := jetwire.mapping_columns(tbl, entity, mapping);
    SELECT string_agg(quote_literal(c), ', ' ORDER BY i) INTO args
    FROM unnest(cols) WITH ORDINALITY AS a(c, i);

    IF lookup AND EXISTS (SELECT 1 FROM jetwire.capture c
                          WHERE c.entity = install_capture.entity AND c.table_name <> tbl) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('jetwire: a %s table is already registered (%s); uninstall it first', entity,
                             (SELECT c.table_name FROM jetwire.capture c WHERE c.entity = install_capture.entity));
    END IF;

    PERFORM jetwire.drop_capture_triggers(tbl);
    IF entity = 'order' THEN
        fn := jetwire.compile_order_capture(tbl, cols, current_user);
        SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
        INTO changed FROM unnest(cols) AS c WHERE c <> '';
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION jetwire.%I(%s)', tbl, fn, args);
        EXECUTE format('CREATE TRIGGER jetwire_capture_update AFTER UPDATE ON %s '
                       'FOR EACH ROW WHEN (%s) EXECUTE FUNCTION jetwire.%I(%s)',
                       tbl, changed, fn, args);
        EXECUTE format('CREATE TRIGGER jetwire_capture_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION jetwire.capture_truncate(%L)', tbl, entity);
    ELSIF entity = 'notification' THEN
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION jetwire.capture_notification(%s)', tbl, args);
    END IF;   -- 'driver', 'merchant': looked up by the bridge, nothing to capture

    INSERT INTO jetwire.capture (table_name, entity, mapping) VALUES (tbl, entity, mapping)
    ON CONFLICT (table_name) DO UPDATE
        SET entity = EXCLUDED.entity, mapping = EXCLUDED.mapping, installed_at = now();
END
$$;

CREATE OR REPLACE FUNCTION jetwire.offer_sql() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m     record;
    d     record;
    avail text := '';
    djoin text := '';
BEGIN
    SELECT table_name, mapping INTO m FROM jetwire.capture
    WHERE entity = 'merchant' AND to_regclass(table_name::text) IS NOT NULL;
    IF m.table_name IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT table_name, mapping INTO d FROM jetwire.capture
    WHERE entity = 'driver' AND to_regclass(table_name::text) IS NOT NULL;
    IF d.table_name IS NOT NULL AND d.mapping ->> 'availability' IS NOT NULL THEN
        djoin := format(' JOIN %s d ON d.%I::text = p.driver_id', d.table_name, d.mapping ->> 'id');
        avail := format(' AND d.%I::text = ANY ($5::text[])', d.mapping ->> 'availability');
    END IF;
    -- Haversine on a 6371 km sphere; a bounding box first (1 degree of
    -- latitude ~ 111 km) keeps the trigonometry to nearby rows.
    RETURN format(
        'WITH m AS (SELECT m.%2$I::float8 AS lat, m.%3$I::float8 AS lng FROM %1$s m WHERE m.%4$I::text = $1), '
        'c AS (SELECT p.driver_id, m.lat AS plat, m.lng AS plng, '
        '2 * 6371 * asin(sqrt(power(sin(radians(p.lat - m.lat) / 2), 2) + cos(radians(m.lat)) * '
        'cos(radians(p.lat)) * power(sin(radians(p.lng - m.lng) / 2), 2))) AS km '
        'FROM jetwire.driver_position p CROSS JOIN m%5$s '
        'WHERE p.presence = ''online'' AND p.ts > now() - make_interval(secs => $4::float8) '
        'AND p.lat BETWEEN m.lat - $2::float8 / 111.0 AND m.lat + $2::float8 / 111.0%6$s) '
        'SELECT driver_id, km, plat, plng FROM c WHERE km <= $2::float8 ORDER BY km, driver_id LIMIT $3::int',
        m.table_name, m.mapping ->> 'pickupLat', m.mapping ->> 'pickupLng', m.mapping ->> 'id', djoin, avail);
END
$$;

REVOKE EXECUTE ON FUNCTION
    jetwire.mapping_fields(text, boolean),
    jetwire.install_capture(regclass, text, jsonb),
    jetwire.offer_sql()
FROM PUBLIC;
