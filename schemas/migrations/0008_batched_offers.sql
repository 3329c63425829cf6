-- jetwire 8: offers looked up for a whole batch of changes in one query.
--
-- 0007's offer_sql() answers for one merchant, so the bridge asked
-- PostgreSQL once per order entering an offer status: with every second or
-- third change of a busy platform doing so, those round trips became most
-- of the bridge's time (bench_bridge: the backlog drained at ~4,600 rows/s
-- instead of ~15,000).  offers_sql() takes the merchant of every such change
-- at once and returns each one's drivers, tagged with its position:
--
--   $1 merchant ids (text[], one per change, repeats allowed),
--   $2 radius km, $3 at most this many drivers per change,
--   $4 positions older than this many seconds are ignored,
--   $5 availability values that may take offers (text[]; ignored when the
--      driver table maps no availability)
--   -> idx (1-based position in $1), driver_id, distance_km, pickup_lat,
--      pickup_lng; by idx, then nearest first.
-- NULL when no merchant table is registered.  offer_sql() stays for
-- bridges of the previous version.

CREATE OR REPLACE FUNCTION jetwire.offers_sql() RETURNS text
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
        'SELECT r.idx, c.driver_id, c.km, m.%2$I::float8, m.%3$I::float8 '
        'FROM unnest($1::text[]) WITH ORDINALITY AS r(merchant, idx) '
        'JOIN %1$s m ON m.%4$I::text = r.merchant '
        'CROSS JOIN LATERAL (SELECT x.driver_id, x.km FROM (SELECT p.driver_id, '
        '2 * 6371 * asin(sqrt(power(sin(radians(p.lat - m.%2$I::float8) / 2), 2) + cos(radians(m.%2$I::float8)) * '
        'cos(radians(p.lat)) * power(sin(radians(p.lng - m.%3$I::float8) / 2), 2))) AS km '
        'FROM jetwire.driver_position p%5$s '
        'WHERE p.presence = ''online'' AND p.ts > now() - make_interval(secs => $4::float8) '
        'AND p.lat BETWEEN m.%2$I::float8 - $2::float8 / 111.0 AND m.%2$I::float8 + $2::float8 / 111.0%6$s) x '
        'WHERE x.km <= $2::float8 ORDER BY x.km, x.driver_id LIMIT $3::int) c '
        'ORDER BY r.idx, c.km, c.driver_id',
        m.table_name, m.mapping ->> 'pickupLat', m.mapping ->> 'pickupLng', m.mapping ->> 'id', djoin, avail);
END
$$;

REVOKE EXECUTE ON FUNCTION jetwire.offers_sql() FROM PUBLIC;
