-- jetwire change capture, 2/2: the trigger functions and the functions that
-- attach them to existing tables through a column mapping.
--
-- A mapping names, for each SPEC field, the column that holds it, so the
-- demo's snake_case tables and Prisma-style tables ("Order"."pickupDriverId")
-- are captured by the same code:
--
--   SELECT jetwire.install_capture('public.orders', 'order', '{
--     "id": "id", "orderNumber": "order_number", "status": "status",
--     "customerId": "customer_id", "merchantId": "merchant_id",
--     "pickupDriverId": "pickup_driver_id", "deliveryDriverId": "delivery_driver_id"}');
--
-- The trigger functions are SECURITY DEFINER (owned by the role that applied
-- the migrations): a writer needs no privilege on the jetwire schema, so
-- installing capture never breaks an application role that can only write
-- its own tables.  EXECUTE is revoked from PUBLIC, so only the owner (or
-- roles it grants) can attach them to a table -- nobody else can forge
-- outbox rows with a trigger of their own.  search_path is pinned.

-- The fields a mapping may name, per entity, in the order of the trigger
-- arguments; required ones first.
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
    END
$$;

-- Validate a mapping against a table; return the mapped column names in the
-- order of mapping_fields(entity), '' for an optional field left unmapped.
-- Every problem is an error that names the field and the column.
CREATE OR REPLACE FUNCTION jetwire.mapping_columns(tbl regclass, entity text, mapping jsonb)
RETURNS text[] LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fields   text[] := jetwire.mapping_fields(entity);
    required text[] := jetwire.mapping_fields(entity, true);
    cols     text[] := '{}';
    f        text;
    col      text;
BEGIN
    IF fields IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('jetwire: unknown entity %L (expected ''order'' or ''notification'')', entity);
    END IF;
    IF mapping IS NULL OR jsonb_typeof(mapping) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('jetwire: the mapping for %s must be a JSON object {"field": "column", ...}', tbl);
    END IF;
    FOR f IN SELECT k FROM jsonb_object_keys(mapping) AS k ORDER BY k LOOP
        IF NOT f = ANY (fields) THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = format('jetwire: unknown field "%s" in the mapping for %s (%s fields: %s)',
                                 f, tbl, entity, array_to_string(fields, ', '));
        END IF;
        IF jsonb_typeof(mapping -> f) <> 'string' OR mapping ->> f = '' THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = format('jetwire: the mapping of "%s" for %s must be a column name (a non-empty string)',
                                 f, tbl);
        END IF;
    END LOOP;
    FOREACH f IN ARRAY fields LOOP
        col := mapping ->> f;
        IF col IS NULL THEN
            IF f = ANY (required) THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = format('jetwire: the mapping for %s has no "%s" (required for %s: %s)',
                                     tbl, f, entity, array_to_string(required, ', '));
            END IF;
            cols := cols || ''::text;
            CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = tbl AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION USING ERRCODE = 'undefined_column',
                MESSAGE = format('jetwire: table %s has no column "%s" (mapped from "%s")', tbl, col, f),
                HINT = 'Column names are case-sensitive: Prisma-style tables use "camelCase" columns.';
        END IF;
        cols := cols || col;
    END LOOP;
    RETURN cols;
END
$$;

-- Wake the bridge at commit, if it asked to be woken (jetwire.wakeup).
-- NOTIFY is only a wake-up: folded within a transaction, lost if nobody
-- listens; the bridge also polls.  Under READ COMMITTED the flag is read
-- with a fresh snapshot, after this transaction got its xid, which is what
-- the bridge's arming protocol relies on (docs/capture.md); a REPEATABLE
-- READ or SERIALIZABLE writer could read it from an older snapshot, so it
-- always notifies.
CREATE OR REPLACE FUNCTION jetwire.wake_bridge() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed'
       OR (SELECT armed FROM jetwire.wakeup WHERE singleton) THEN
        PERFORM pg_notify('jetwire_outbox', '');
    END IF;
END
$$;

-- One outbox row for an order change: bump the order's version (row lock
-- until commit), then write the mapped fields.  m = the trigger arguments
-- (mapping_columns('order')), indexed from 0 like TG_ARGV.
--   data: orderNumber, status, previousStatus, customerId, merchantId,
--         pickupDriverId, deliveryDriverId, previousPickupDriverId,
--         previousDeliveryDriverId -- all text or null.  "status" and the
--         driver ids are the new row's (null on delete), "previous*" the old
--         row's (null on insert).
CREATE OR REPLACE FUNCTION jetwire.emit_order(op text, key text, n jsonb, o jsonb, m text[], src text)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v   bigint := 0;       -- 0: no key, a bad row the bridge dead-letters
    cur jsonb := COALESCE(n, o);
BEGIN
    IF key IS NOT NULL THEN
        INSERT INTO jetwire.entity_version AS ev (entity, entity_id, version)
        VALUES ('order', key, 1)
        ON CONFLICT (entity, entity_id) DO UPDATE SET version = ev.version + 1
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

-- Row trigger on a captured order table (AFTER INSERT OR DELETE, and AFTER
-- UPDATE WHEN a mapped column changed -- so an update of any other column
-- costs nothing).  TG_ARGV = mapping_columns(tbl, 'order', mapping).
CREATE OR REPLACE FUNCTION jetwire.capture_order() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n      jsonb;
    o      jsonb;
    new_id text;
    old_id text;
    src    text := format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
BEGIN
    IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW); new_id := n ->> TG_ARGV[0]; END IF;
    IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD); old_id := o ->> TG_ARGV[0]; END IF;

    IF TG_OP = 'UPDATE' AND old_id IS DISTINCT FROM new_id THEN
        -- The order changed its key: the old order is gone, a new one appeared.
        PERFORM jetwire.emit_order('delete', old_id, NULL, o, TG_ARGV, src);
        PERFORM jetwire.emit_order('insert', new_id, n, NULL, TG_ARGV, src);
    ELSE
        PERFORM jetwire.emit_order(lower(TG_OP), COALESCE(new_id, old_id), n, o, TG_ARGV, src);
    END IF;

    PERFORM jetwire.wake_bridge();
    RETURN NULL;
END
$$;

-- Statement trigger: TRUNCATE bypasses row triggers, so record that the
-- table was emptied; the bridge answers with a resync.  TG_ARGV[0] = entity.
CREATE OR REPLACE FUNCTION jetwire.capture_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO jetwire.outbox (entity, entity_id, version, op, source, data)
    VALUES (TG_ARGV[0], NULL, 0, 'truncate', format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), '{}');
    PERFORM jetwire.wake_bridge();
    RETURN NULL;
END
$$;

-- Row trigger AFTER INSERT on a captured notification table.
-- TG_ARGV = mapping_columns(tbl, 'notification', mapping).
--   data: userType, userId, title, body (text), data (the column's JSON
--   value: an object for a json/jsonb column), createdAt (text or null).
CREATE OR REPLACE FUNCTION jetwire.capture_notification() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n   jsonb := to_jsonb(NEW);
    key text  := n ->> TG_ARGV[0];
BEGIN
    INSERT INTO jetwire.outbox (entity, entity_id, version, op, source, data)
    VALUES ('notification', key, CASE WHEN key IS NULL THEN 0 ELSE 1 END, 'insert',
            format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), jsonb_build_object(
        'userType',  n ->> TG_ARGV[1],
        'userId',    n ->> TG_ARGV[2],
        'title',     n ->> TG_ARGV[3],
        'body',      n ->> TG_ARGV[4],
        'data',      n ->  TG_ARGV[5],
        'createdAt', n ->> TG_ARGV[6]));
    PERFORM jetwire.wake_bridge();
    RETURN NULL;
END
$$;

-- Drop every capture trigger jetwire put on a table; returns how many.
CREATE OR REPLACE FUNCTION jetwire.drop_capture_triggers(tbl regclass)
RETURNS integer LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    dropped integer := 0;
BEGIN
    FOR t IN SELECT tgname FROM pg_trigger
             WHERE tgrelid = tbl AND NOT tgisinternal AND tgname LIKE 'jetwire\_capture%'
             ORDER BY tgname LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, tbl);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;

-- Attach capture to a table.  Idempotent: installing again replaces the
-- triggers and the registered mapping (one set of triggers, one registry
-- row).  Runs with the caller's rights: the caller must own the table (or
-- have TRIGGER on it) and be allowed to use the jetwire functions.
--   order:        jetwire_capture (AFTER INSERT OR DELETE), jetwire_capture_update
--                 (AFTER UPDATE WHEN a mapped column changed), jetwire_capture_truncate
--   notification: jetwire_capture (AFTER INSERT)
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
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
            MESSAGE = format('jetwire: %s is not a table', tbl);
    END IF;
    cols := jetwire.mapping_columns(tbl, entity, mapping);
    SELECT string_agg(quote_literal(c), ', ' ORDER BY i) INTO args
    FROM unnest(cols) WITH ORDINALITY AS a(c, i);

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
    ELSE
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION jetwire.capture_notification(%s)', tbl, args);
    END IF;

    INSERT INTO jetwire.capture (table_name, entity, mapping) VALUES (tbl, entity, mapping)
    ON CONFLICT (table_name) DO UPDATE
        SET entity = EXCLUDED.entity, mapping = EXCLUDED.mapping, installed_at = now();
END
$$;

-- Detach capture from a table: its jetwire triggers and its registry row.
-- Returns false if it was not captured.  Pending outbox rows stay (the
-- bridge still delivers what was committed before).
CREATE OR REPLACE FUNCTION jetwire.uninstall_capture(tbl regclass)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dropped  integer := jetwire.drop_capture_triggers(tbl);
    removed  integer;
BEGIN
    DELETE FROM jetwire.capture WHERE table_name = tbl;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN dropped > 0 OR removed > 0;
END
$$;

-- Only the owner of the jetwire schema (and whom it grants) may use these:
-- the trigger functions write the outbox with the owner's rights.
REVOKE EXECUTE ON FUNCTION
    jetwire.mapping_fields(text, boolean),
    jetwire.wake_bridge(),
    jetwire.mapping_columns(regclass, text, jsonb),
    jetwire.emit_order(text, text, jsonb, jsonb, text[], text),
    jetwire.capture_order(),
    jetwire.capture_truncate(),
    jetwire.capture_notification(),
    jetwire.drop_capture_triggers(regclass),
    jetwire.install_capture(regclass, text, jsonb),
    jetwire.uninstall_capture(regclass)
FROM PUBLIC;
