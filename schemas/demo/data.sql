-- Demo rows for the demo tables (schemas/demo/tables.sql): three customers,
-- two merchants and ten drivers in Berlin, with fixed ids that the web demo,
-- scripts/up.sh and the tests rely on:
--
--   customers 1 Ada, 2 Grace, 3 Linus          (each with a home point)
--   merchant  1 Clean Corner Laundry           pickup point 52.5200, 13.4050
--   merchant  2 Kastanie Dry Cleaning          pickup point 52.5380, 13.4130
--   drivers   1..10, all AVAILABLE             (up.sh simulates 2..10; 1 is the web driver page's)
--
-- Idempotent: rows that exist are left alone (ON CONFLICT DO NOTHING), and
-- the identity sequences are moved past the explicit ids so rows inserted
-- later without an id (new orders, new customers) do not collide.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f schemas/demo/data.sql

-- A home point per customer, for the web demo's map.  Demo-only columns:
-- capture does not map them, and a real platform has its own addresses.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS home_lat double precision
    CHECK (home_lat BETWEEN -90 AND 90);
ALTER TABLE customers ADD COLUMN IF NOT EXISTS home_lng double precision
    CHECK (home_lng BETWEEN -180 AND 180);

INSERT INTO customers (id, name, email, phone, home_lat, home_lng) VALUES
    (1, 'Ada',   'ada@example.com',   '+49 30 1000001', 52.5292, 13.3880),
    (2, 'Grace', 'grace@example.com', '+49 30 1000002', 52.5069, 13.4235),
    (3, 'Linus', 'linus@example.com', '+49 30 1000003', 52.5251, 13.4412)
ON CONFLICT DO NOTHING;

INSERT INTO merchants (id, name, phone, address, pickup_lat, pickup_lng) VALUES
    (1, 'Clean Corner Laundry',  '+49 30 2000001', 'Rathausstraße 1, 10178 Berlin',  52.5200, 13.4050),
    (2, 'Kastanie Dry Cleaning', '+49 30 2000002', 'Kastanienallee 20, 10435 Berlin', 52.5380, 13.4130)
ON CONFLICT DO NOTHING;

INSERT INTO drivers (id, name, phone, rating, vehicle_type, availability) VALUES
    (1,  'Dana',    '+49 30 3000001', 4.90, 'BIKE',    'AVAILABLE'),
    (2,  'Emil',    '+49 30 3000002', 4.70, 'CAR',     'AVAILABLE'),
    (3,  'Farah',   '+49 30 3000003', 4.80, 'SCOOTER', 'AVAILABLE'),
    (4,  'Gustav',  '+49 30 3000004', 4.50, 'VAN',     'AVAILABLE'),
    (5,  'Hana',    '+49 30 3000005', 4.95, 'BIKE',    'AVAILABLE'),
    (6,  'Ivo',     '+49 30 3000006', 4.60, 'CAR',     'AVAILABLE'),
    (7,  'Jana',    '+49 30 3000007', 4.85, 'SCOOTER', 'AVAILABLE'),
    (8,  'Kemal',   '+49 30 3000008', 4.40, 'CAR',     'AVAILABLE'),
    (9,  'Lotte',   '+49 30 3000009', 4.75, 'BIKE',    'AVAILABLE'),
    (10, 'Mateo',   '+49 30 3000010', 4.65, 'VAN',     'AVAILABLE')
ON CONFLICT DO NOTHING;

-- Past the explicit ids (setval's third argument true: the next value is max + 1).
SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT GREATEST(max(id), 1) FROM customers));
SELECT setval(pg_get_serial_sequence('merchants', 'id'), (SELECT GREATEST(max(id), 1) FROM merchants));
SELECT setval(pg_get_serial_sequence('drivers', 'id'),   (SELECT GREATEST(max(id), 1) FROM drivers));
