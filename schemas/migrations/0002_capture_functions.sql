-- Capture triggers and the functions that attach them to existing tables.
--
-- A mapping names, for each SPEC field, the column that holds it, so the
-- demo's snake_case tables and Prisma-style tables ("Order"."pickupDriverId")
-- are captured by the same code:
--
--   SELECT jetwire.install_order_capture('public.orders', '{
--     "id": "id", "orderNumber": "order_number", "status": "status",
--     "customerId": "customer_id", "merchantId": "merchant_id",
--     "pickupDriverId": "pickup_driver_id", "deliveryDriverId": "delivery_driver_id"}');

-- Emit one outbox row for an order change.  TG_ARGV[0] is the mapping.
CREATE OR REPLACE FUNCTION jetwire.capture_order() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    m      jsonb := TG_ARGV[0]::jsonb;
    n      jsonb;
    o      jsonb;
    row_id text;
    v      bigint;
BEGIN
    IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW); END IF;
    IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD); END IF;

    -- An update that touches none of the mapped fields is not an event.
    IF TG_OP = 'UPDATE'
       AND (n ->> (m->>'status'))           IS NOT DISTINCT FROM (o ->> (m->>'status'))
       AND (n ->> (m->>'pickupDriverId'))   IS NOT DISTINCT FROM (o ->> (m->>'pickupDriverId'))
       AND (n ->> (m->>'deliveryDriverId')) IS NOT DISTINCT FROM (o ->> (m->>'deliveryDriverId'))
       AND (n ->> (m->>'customerId'))       IS NOT DISTINCT FROM (o ->> (m->>'customerId'))
       AND (n ->> (m->>'merchantId'))       IS NOT DISTINCT FROM (o ->> (m->>'merchantId'))
       AND (n ->> (m->>'orderNumber'))      IS NOT DISTINCT FROM (o ->> (m->>'orderNumber')) THEN
        RETURN NULL;
    END IF;

    row_id := COALESCE(n, o) ->> (m->>'id');
    IF row_id IS NOT NULL THEN
        INSERT INTO jetwire.entity_version AS ev (entity, entity_id, version)
        VALUES ('order', row_id, 1)
        ON CONFLICT (entity, entity_id) DO UPDATE SET version = ev.version + 1
        RETURNING ev.version INTO v;
    ELSE
        v := 0;   -- a bad row: the bridge dead-letters it
    END IF;

    INSERT INTO jetwire.outbox (entity, entity_id, version, op, data)
    VALUES ('order', row_id, v, lower(TG_OP), jsonb_build_object(
        'orderNumber',              COALESCE(n, o) ->> (m->>'orderNumber'),
        'status',                   n ->> (m->>'status'),
        'previousStatus',           o ->> (m->>'status'),
        'customerId',               COALESCE(n, o) ->> (m->>'customerId'),
        'merchantId',               COALESCE(n, o) ->> (m->>'merchantId'),
        'pickupDriverId',           n ->> (m->>'pickupDriverId'),
        'deliveryDriverId',         n ->> (m->>'deliveryDriverId'),
        'previousPickupDriverId',   o ->> (m->>'pickupDriverId'),
        'previousDeliveryDriverId', o ->> (m->>'deliveryDriverId')));

    -- A wake-up only: folded within a transaction, lost if nobody listens.
    PERFORM pg_notify('jetwire_outbox', '');
    RETURN NULL;
END
$$;

-- Emit one outbox row for a new notification.
CREATE OR REPLACE FUNCTION jetwire.capture_notification() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    m jsonb := TG_ARGV[0]::jsonb;
    n jsonb := to_jsonb(NEW);
BEGIN
    INSERT INTO jetwire.outbox (entity, entity_id, version, op, data)
    VALUES ('notification', n ->> (m->>'id'), 1, 'insert', jsonb_build_object(
        'userType',  n ->> (m->>'userType'),
        'userId',    n ->> (m->>'userId'),
        'title',     n ->> (m->>'title'),
        'body',      n ->> (m->>'body'),
        'data',      n -> (m->>'data'),
        'timestamp', n ->> (m->>'createdAt')));
    PERFORM pg_notify('jetwire_outbox', '');
    RETURN NULL;
END
$$;

-- Check that every mapped column exists on the table; raise a precise error.
CREATE OR REPLACE FUNCTION jetwire.check_mapping(tbl regclass, mapping jsonb, required text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f text;
    col text;
BEGIN
    FOREACH f IN ARRAY required LOOP
        col := mapping ->> f;
        IF col IS NULL THEN
            RAISE EXCEPTION 'jetwire: mapping for % has no "%" column', tbl, f;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = tbl AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION 'jetwire: table % has no column "%" (mapped from "%")', tbl, col, f;
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION jetwire.install_capture(tbl regclass, entity text, mapping jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    fn text;
BEGIN
    IF entity = 'order' THEN
        PERFORM jetwire.check_mapping(tbl, mapping, ARRAY['id', 'orderNumber', 'status',
            'customerId', 'merchantId', 'pickupDriverId', 'deliveryDriverId']);
        fn := 'jetwire.capture_order';
        EXECUTE format('DROP TRIGGER IF EXISTS jetwire_capture ON %s', tbl);
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION %s(%L)', tbl, fn, mapping::text);
    ELSIF entity = 'notification' THEN
        PERFORM jetwire.check_mapping(tbl, mapping, ARRAY['id', 'userType', 'userId', 'title',
            'body', 'data', 'createdAt']);
        fn := 'jetwire.capture_notification';
        EXECUTE format('DROP TRIGGER IF EXISTS jetwire_capture ON %s', tbl);
        EXECUTE format('CREATE TRIGGER jetwire_capture AFTER INSERT ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION %s(%L)', tbl, fn, mapping::text);
    ELSE
        RAISE EXCEPTION 'jetwire: unknown entity "%" (expected order or notification)', entity;
    END IF;
    INSERT INTO jetwire.capture (table_name, entity, mapping) VALUES (tbl, entity, mapping)
    ON CONFLICT (table_name) DO UPDATE SET entity = EXCLUDED.entity, mapping = EXCLUDED.mapping,
                                           installed_at = now();
END
$$;

CREATE OR REPLACE FUNCTION jetwire.uninstall_capture(tbl regclass)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS jetwire_capture ON %s', tbl);
    DELETE FROM jetwire.capture WHERE table_name = tbl;
END
$$;
