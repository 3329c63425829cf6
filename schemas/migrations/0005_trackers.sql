-- jetwire 5: which tracker relations outlive a change.
--
-- A tracker tuple (driver:{d}, tracker, customer:{c}) lets a customer read
-- a driver's location and presence while one of its active orders is served
-- by that driver (SPEC).  The tuple is not per order, so when an order ends
-- or drops a driver the bridge asks, for each tuple it would remove, whether
-- another active order still joins that driver and that customer (or
-- merchant).  tracker_keep_sql() is that question, generated from the
-- registered order mappings; driver ids are compared in the columns' own
-- types so their indexes are used.
--
--   $1 order ids, $2 driver ids, $3 subject kinds ('customer' | 'merchant'),
--   $4 subject ids (all text[], same length), $5 terminal statuses (text[])
--   -> the (order_id, driver_id, subject) rows that are kept;
--      subject is 'customer:{id}' / 'merchant:{id}'.
-- NULL when no captured order table maps its drivers.

CREATE OR REPLACE FUNCTION jetwire.column_type(tbl regclass, col text)
RETURNS text LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = tbl AND attname = col AND attnum > 0 AND NOT attisdropped
$$;

CREATE OR REPLACE FUNCTION jetwire.tracker_keep_sql() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c     record;
    parts text[] := '{}';
    m     jsonb;
BEGIN
    FOR c IN SELECT table_name, mapping FROM jetwire.capture
             WHERE entity = 'order' AND to_regclass(table_name::text) IS NOT NULL
             ORDER BY table_name::text LOOP
        m := c.mapping;
        IF m ->> 'pickupDriverId' IS NULL AND m ->> 'deliveryDriverId' IS NULL THEN
            CONTINUE;
        END IF;
        parts := parts || format(
            'SELECT k.ord, k.drv, k.kind || '':'' || k.subj FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) '
            'AS k(ord, drv, kind, subj) WHERE EXISTS (SELECT 1 FROM %1$s o WHERE (%2$s) '
            'AND o.%3$I::text <> k.ord '
            'AND (o.%4$I::text IS NULL OR o.%4$I::text <> ALL ($5::text[])) '
            'AND ((k.kind = ''customer'' AND o.%5$I::text = k.subj) OR (k.kind = ''merchant'' AND o.%6$I::text = k.subj)))',
            c.table_name,
            concat_ws(' OR ',
                CASE WHEN m ->> 'pickupDriverId' IS NOT NULL THEN
                    format('o.%I = k.drv::%s', m ->> 'pickupDriverId',
                           jetwire.column_type(c.table_name, m ->> 'pickupDriverId')) END,
                CASE WHEN m ->> 'deliveryDriverId' IS NOT NULL THEN
                    format('o.%I = k.drv::%s', m ->> 'deliveryDriverId',
                           jetwire.column_type(c.table_name, m ->> 'deliveryDriverId')) END),
            m ->> 'id', m ->> 'status', m ->> 'customerId', m ->> 'merchantId');
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN NULL;
    END IF;
    RETURN array_to_string(parts, ' UNION ');
END
$$;

REVOKE EXECUTE ON FUNCTION
    jetwire.column_type(regclass, text),
    jetwire.tracker_keep_sql()
FROM PUBLIC;
