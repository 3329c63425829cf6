-- The demo's places for the web pages' config.js, as one JSON document:
-- merchants (name, pickup point), customers (name, home point when the demo
-- data gave one), drivers (name, vehicle).  Read by scripts/lib/stack.sh and
-- docker/demo/init.sh:  psql -X -A -t -f schemas/demo/web_places.sql
SELECT json_build_object(
  'merchants', COALESCE((SELECT json_object_agg(id, json_build_object('name', name,
      'lat', pickup_lat, 'lng', pickup_lng) ORDER BY id) FROM merchants), '{}'),
  'customers', COALESCE((SELECT json_object_agg(c.id, json_build_object('name', c.name,
      'lat', to_jsonb(c) -> 'home_lat', 'lng', to_jsonb(c) -> 'home_lng') ORDER BY c.id)
      FROM customers c), '{}'),
  'drivers', COALESCE((SELECT json_object_agg(id, json_build_object('name', name,
      'vehicleType', vehicle_type) ORDER BY id) FROM drivers), '{}'));
