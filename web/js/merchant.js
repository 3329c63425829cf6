/*
 * Merchant page: the live order queue (the broker's retained state on
 * connect, then every change as it happens), new orders highlighted until
 * acknowledged, and the drivers serving the merchant's active orders, with
 * their distance to the pickup point.
 */
(async function () {
	'use strict';
	const J = window.Jetwire;
	const el = J.el;
	const session = await J.session('merchant');
	const cfg = J.config();
	const me = cfg.merchants[session.sub];
	const fresh = new Set();      // order ids created while the page was open, not yet acknowledged
	let map = null;

	const store = J.OrderStore(onOrder);
	const tracker = J.DriverTracker(render);

	function onOrder(o, what, packet) {
		// a live (not retained) first status = an order created just now
		if (what === 'status' && !packet.retain && (o.previousStatus === null || o.previousStatus === undefined)) fresh.add(o.id);
		if (what === 'removed' || J.TERMINAL.has(o.status)) fresh.delete(o.id);   // nothing left to notice
		tracker.want(store.trackedDrivers());
		render();
	}

	function driverText(o) {
		const ds = Object.values(o.drivers);
		if (!ds.length) return '—';
		return ds.map((d) => (d.name || 'Driver ' + d.id) + (ds.length > 1 ? ' (' + d.role + ')' : '')).join(', ');
	}

	function render() {
		const orders = store.sorted();
		const rows = orders.map((o) => {
			const isNew = fresh.has(o.id);
			return el('tr', {
				dataset: { orderId: o.id, status: o.status, source: o.firstRetained ? 'retained' : 'live' },
				class: [isNew ? 'new' : '', J.TERMINAL.has(o.status) ? 'terminal' : ''].join(' ').trim() || null,
			},
			el('td', {}, el('strong', {}, o.number), ' ', isNew ? el('span', { class: 'badge new' }, 'NEW') : ''),
			el('td', {}, J.statusBadge(o.status)),
			el('td', { class: 'driver' }, driverText(o)),
			el('td', {}, J.fmtClock(o.statusAt), ' ', el('span', { class: 'badge src' }, o.live ? 'live' : 'retained')),
			el('td', {}, isNew ? el('button', { class: 'secondary ack', type: 'button',
				onclick: () => { fresh.delete(o.id); render(); } }, 'Seen') : ''));
		});
		J.$('#queue tbody').replaceChildren(...rows);
		J.$('#no-orders').hidden = rows.length > 0;
		const active = orders.filter((o) => !J.TERMINAL.has(o.status)).length;
		J.$('#queue-count').textContent = '(' + active + ' active' + (fresh.size ? ', ' + fresh.size + ' new' : '') + ')';

		// drivers serving an active order
		const serving = new Map();
		for (const o of orders) {
			if (J.TERMINAL.has(o.status)) continue;
			for (const d of Object.values(o.drivers)) {
				if (!serving.has(d.id)) serving.set(d.id, { d, orders: [] });
				serving.get(d.id).orders.push(o);
			}
		}
		const items = [...serving.values()].map(({ d, orders: os }) => {
			const st = tracker.state.get(d.id) || {};
			const presence = st.presence ? st.presence.status : 'unknown';
			const dist = st.pos && me ? J.fmtKm(J.distanceM(st.pos, me)) + ' from the pickup point' : st.pos ? '' : 'no position yet';
			const what = os.map((o) => o.number + ': ' + (o.status === 'ASSIGNED_TO_DRIVER' ? 'coming for pickup' : J.statusLabel(o.status))).join('; ');
			return el('li', { class: 'driver-card', dataset: { driverId: d.id } },
				el('div', { class: 'avatar' }, (d.name || '?').slice(0, 1).toUpperCase()),
				el('div', { class: 'body' },
					el('div', { class: 'line' }, el('span', { class: 'name' }, d.name || 'Driver ' + d.id),
						el('span', { class: 'presence', dataset: { presence } }, presence)),
					el('div', { class: 'meta' }, what),
					el('div', { class: 'meta pos' }, [dist, st.pos ? 'seen ' + J.fmtAgo(st.pos.ts) : ''].filter(Boolean).join(' · '))));
		});
		J.$('#enroute').replaceChildren(...items);
		J.$('#no-enroute').hidden = items.length > 0;

		const firstPos = [...tracker.state.values()].map((s) => s.pos).find(Boolean);
		const origin = me || firstPos;
		if (!map && origin) {
			map = J.SvgMap(J.$('#map'), origin);
			if (me) map.set({ id: 'merchant-' + session.sub, kind: 'merchant', lat: me.lat, lng: me.lng, label: me.name || 'Pickup' });
		}
		if (!map) return;
		const shown = new Set();
		for (const { d } of serving.values()) {
			const st = tracker.state.get(d.id);
			if (!st || !st.pos) continue;
			shown.add('driver-' + d.id);
			map.set({ id: 'driver-' + d.id, kind: 'driver', lat: st.pos.lat, lng: st.pos.lng, heading: st.pos.heading,
				label: d.name || 'Driver ' + d.id, state: st.presence ? st.presence.status : '' });
		}
		for (const g of map.svg.querySelectorAll('g.pt.driver')) {
			if (!shown.has(g.dataset.id)) map.remove(g.dataset.id);
		}
	}

	setInterval(render, 5000);

	J.connect(session, {
		async onConnect(conn) {
			const granted = await conn.subscribe(['order/+/status', 'order/+/driver',
				'merchant/' + session.sub + '/notifications'], 1);
			if (granted.some((g) => g >= 0x80)) J.banner('warn', 'the broker refused a subscription (SUBACK ' + granted.join(', ') + ')');
			tracker.connected(conn);
		},
		onMessage(topic, text, packet) {
			if (store.handle(topic, text, packet)) return;
			tracker.handle(topic, text);
		},
	});
})();
