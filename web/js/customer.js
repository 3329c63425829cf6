/*
 * Customer page: my orders with live status, the assigned driver's card,
 * the driver moving on a map, presence.  Subscribes to order/+/status and
 * order/+/driver (the broker delivers only the orders this customer is a
 * party of), customer/{sub}/notifications, and driver/{id}/location|presence
 * of each driver serving one of its active orders.
 */
(async function () {
	'use strict';
	const J = window.Jetwire;
	const el = J.el;
	const session = await J.session('customer');
	const cfg = J.config();
	const home = cfg.customers[session.sub];
	const merchantIds = Object.keys(cfg.merchants).sort((a, b) => Number(a) - Number(b));
	let selected = null;
	let pinned = false;      // the user picked an order: stop following the most interesting one
	let map = null;

	const store = J.OrderStore(onOrder);
	const tracker = J.DriverTracker(onDriver);

	function ensureMap(origin) {
		if (map || !origin) return map;
		map = J.SvgMap(J.$('#map'), origin);
		for (const id of merchantIds) {
			const m = cfg.merchants[id];
			map.set({ id: 'merchant-' + id, kind: 'merchant', lat: m.lat, lng: m.lng, label: m.name });
		}
		if (home) map.set({ id: 'home', kind: 'customer', lat: home.lat, lng: home.lng, label: 'Home' });
		return map;
	}

	/* Which order the detail shows unless the user picked one: an active
	 * order with a driver (the one to watch), else an active one, else the
	 * newest. */
	function autoSelect() {
		const orders = store.sorted();
		const rank = (o) => (J.TERMINAL.has(o.status) ? 2 : Object.keys(o.drivers).length ? 0 : 1);
		const best = orders.reduce((a, o) => (!a || rank(o) < rank(a) ? o : a), null);
		return best ? best.id : null;
	}

	function onOrder(o, what) {
		if (what === 'removed' && selected === o.id) pinned = false;
		if (!pinned || !store.orders.has(selected)) selected = autoSelect();
		tracker.want(store.trackedDrivers());
		renderOrders();
		renderDetail();
	}

	function onDriver() {
		renderDetail();
	}

	function renderOrders() {
		const list = J.$('#orders');
		const rows = store.sorted().map((o) => el('li', {
			dataset: { orderId: o.id, status: o.status },
			class: [o.id === selected ? 'selected' : '', J.TERMINAL.has(o.status) ? 'terminal' : ''].join(' ').trim() || null,
			onclick: () => { selected = o.id; pinned = true; renderOrders(); renderDetail(); },
		}, el('span', { class: 'num' }, o.number), J.statusBadge(o.status),
		el('span', { class: 'when' }, J.fmtClock(o.statusAt))));
		list.replaceChildren(...rows);
		J.$('#no-orders').hidden = rows.length > 0;
	}

	function renderDetail() {
		const o = selected && store.orders.get(selected);
		const detail = J.$('#detail');
		detail.hidden = !o;
		if (!o) return;
		detail.dataset.orderId = o.id;
		J.$('#detail-title').textContent = 'Order ' + o.number;

		// the status as a timeline of the platform's stages
		const stages = J.STATUSES.filter((s) => s !== 'CANCELLED');
		const cur = J.STATUSES.indexOf(o.status);
		const tl = stages.map((s, i) => el('li', {
			class: o.status === 'CANCELLED' ? (o.history.some((h) => h.status === s) ? 'done' : null)
				: i < cur ? 'done' : i === cur ? 'current' : null,
			dataset: { status: s },
		}, J.statusLabel(s)));
		if (o.status === 'CANCELLED') tl.push(el('li', { class: 'cancelled current', dataset: { status: 'CANCELLED' } }, 'Cancelled'));
		J.$('#timeline').replaceChildren(...tl);

		// one card per assigned driver (pickup, delivery)
		const active = !J.TERMINAL.has(o.status);
		const cards = Object.values(o.drivers).map((d) => {
			const st = tracker.state.get(d.id) || {};
			const presence = st.presence ? st.presence.status : 'unknown';
			const pos = st.pos;
			const dist = pos && home ? J.fmtKm(J.distanceM(pos, home)) + ' from home' : '';
			return el('div', { class: 'driver-card', dataset: { driverId: d.id, role: d.role } },
				el('div', { class: 'avatar' }, (d.name || '?').slice(0, 1).toUpperCase()),
				el('div', { class: 'body' },
					el('div', { class: 'line' }, el('span', { class: 'name' }, d.name || 'Driver ' + d.id),
						el('span', { class: 'presence', dataset: { presence: active ? presence : 'unknown' } },
							active ? presence : 'not tracked (order ended)')),
					el('div', { class: 'meta' }, [d.role === 'delivery' ? 'delivery driver' : 'pickup driver',
						d.vehicleType, d.rating !== null && Number.isFinite(Number(d.rating)) ? '★ ' + Number(d.rating).toFixed(1) : null]
						.filter(Boolean).join(' · ')),
					el('div', { class: 'meta pos' }, pos ? 'position ' + J.fmtAgo(pos.ts) + (dist ? ' · ' + dist : '') : active ? 'no position yet' : '')));
		});
		J.$('#drivers').replaceChildren(...(cards.length ? cards
			: [el('p', { class: 'empty' }, 'No driver assigned yet.')]));

		// the map: merchants, home, and the drivers of this order
		const firstPos = [...tracker.state.values()].map((s) => s.pos).find(Boolean);
		const origin = merchantIds.length ? cfg.merchants[merchantIds[0]] : home || firstPos;
		if (!ensureMap(origin)) return;
		const shown = new Set();
		if (active) {
			for (const d of Object.values(o.drivers)) {
				const st = tracker.state.get(d.id);
				if (!st || !st.pos) continue;
				shown.add('driver-' + d.id);
				map.set({ id: 'driver-' + d.id, kind: 'driver', lat: st.pos.lat, lng: st.pos.lng, heading: st.pos.heading,
					label: (d.name || 'Driver ' + d.id), state: st.presence ? st.presence.status : '' });
			}
		}
		for (const g of map.svg.querySelectorAll('g.pt.driver')) {
			if (!shown.has(g.dataset.id)) map.remove(g.dataset.id);
		}
	}

	function notify(n) {
		if (!n) return;
		J.$('#no-notifications').hidden = true;
		J.$('#notifications').prepend(el('li', { dataset: { id: String(n.id) } },
			el('strong', {}, n.title || 'Notification'), ' ', el('span', {}, n.body || ''),
			el('div', { class: 'muted' }, n.timestamp || '')));
	}

	setInterval(renderDetail, 5000);   // "position 12 s ago"

	J.connect(session, {
		async onConnect(conn) {
			const granted = await conn.subscribe(['order/+/status', 'order/+/driver',
				'customer/' + session.sub + '/notifications'], 1);
			if (granted.some((g) => g >= 0x80)) J.banner('warn', 'the broker refused a subscription (SUBACK ' + granted.join(', ') + ')');
			tracker.connected(conn);
		},
		onMessage(topic, text, packet) {
			if (store.handle(topic, text, packet)) return;
			if (tracker.handle(topic, text)) return;
			if (topic.endsWith('/notifications')) notify(J.parseJson(text));
		},
	});
})();
