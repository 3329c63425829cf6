/*
 * jetwire web demo configuration (docs/web-demo.md).  scripts/lib/stack.sh
 * (scripts/up.sh, the tests) replaces this file in the web root it serves
 * with one generated from the demo tables.  This default only points the
 * pages at the broker that serves them.
 *   wsUrl      MQTT over WebSocket URL; null: ws(s)://<this page's host:port>/
 *   merchants  {id: {name, lat, lng}}: pickup points drawn on the maps
 *   customers  {id: {name, lat, lng}}: home points drawn on the customer's map
 * No tokens here: pages take theirs from the URL fragment (#token=...) or a login box.
 */
window.JETWIRE = window.JETWIRE || {
	wsUrl: null,
	merchants: {},
	customers: {},
};
