-- Attach jetwire change capture to the demo tables (schemas/demo/tables.sql).
-- Needs the migrations applied first (jetwire-migrate).  Idempotent: running
-- it again replaces the triggers and the registered mappings.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f schemas/demo/capture.sql
--
-- Each mapping is {"SPEC field": "column"}; see schemas/README.md.

SELECT jetwire.install_capture('public.orders', 'order', '{
    "id":               "id",
    "orderNumber":      "order_number",
    "status":           "status",
    "customerId":       "customer_id",
    "merchantId":       "merchant_id",
    "pickupDriverId":   "pickup_driver_id",
    "deliveryDriverId": "delivery_driver_id"
}');

SELECT jetwire.install_capture('public.notifications', 'notification', '{
    "id":        "id",
    "userType":  "user_type",
    "userId":    "user_id",
    "title":     "title",
    "body":      "body",
    "data":      "data",
    "createdAt": "created_at"
}');

-- Drivers are looked up, not captured: the bridge reads the name, rating
-- and vehicle of an assigned driver into order/{id}/driver.
SELECT jetwire.install_capture('public.drivers', 'driver', '{
    "id":           "id",
    "name":         "name",
    "rating":       "rating",
    "vehicleType":  "vehicle_type",
    "availability": "availability"
}');

-- Merchants are looked up too: where offers are measured from.
SELECT jetwire.install_capture('public.merchants', 'merchant', '{
    "id":        "id",
    "pickupLat": "pickup_lat",
    "pickupLng": "pickup_lng"
}');
