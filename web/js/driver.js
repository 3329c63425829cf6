/*
 * Driver page: what a driver app does (docs/drivers.md), with a simulated
 * position.
 *   - Online toggle = a connection: going online connects with a retained
 *     last will {"status":"offline"} and publishes {"status":"online"} with
 *     the same ts (the connection time), retained, 300 s expiry; going off
 *     duty publishes "offline" and disconnects normally.
 *   - Location: driver/{sub}/location every 15 s or as soon as the position
 *     moved 100 m (retained, QoS 1, 60 s expiry); a refused publish
 *     (PUBACK 0x87: rate limit or payload) is shown.
 *   - Offers on driver/{sub}/offers with a countdown to expiresAt; the
 *     orders assigned to this driver from order/+/status|driver.
 */
(async function () {
	'use strict';
	const J = window.Jetwire;
	const el = J.el;
	const session = await J.session('driver');
	const cfg = J.config();
	const sub = session.sub;
	const presenceTopic = 'driver/' + sub + '/presence';
	const locationTopic = 'driver/' + sub + '/location';
	const PRESENCE_EXPIRY = 300, LOCATION_EXPIRY = 60, SPEED = 9, STEP = 150;

	const merchantIds = Object.keys(cfg.merchants).sort((a, b) => Number(a) - Number(b));
	const base = merchantIds.length ? cfg.merchants[merchantIds[0]] : { lat: 52.52, lng: 13.405, name: 'pickup' };
	// a loop of waypoints around the first merchant (about 600 m out)
	const dLat = 600 / 111195, dLng = 600 / (111195 * Math.cos(base.lat * Math.PI / 180));
	const loop = [[1, 1], [1, -1], [-1, -1], [-1, 1]].map(([a, b]) => ({ lat: base.lat + a * dLat, lng: base.lng + b * dLng }));
	let wp = 0;
	let pos = { lat: base.lat + 0.8 * dLat, lng: base.lng + 0.3 * dLng };
	let heading = null;
	let lastPub = null, publishing = false, published = 0;
	let conn = null, connectedAt = 0, presenceTimer = null;
	const pickups = new Map();    // orderId -> {lat, lng} (from offers)
	const offers = new Map();     // orderId -> offer

	const toggle = J.$('#online-toggle');
	const autoDrive = J.$('#auto-drive');
	const store = J.OrderStore(renderAssigned);
	const map = J.SvgMap(J.$('#map'), base);
	for (const id of merchantIds) {
		const m = cfg.merchants[id];
		map.set({ id: 'merchant-' + id, kind: 'merchant', lat: m.lat, lng: m.lng, label: m.name });
	}

	// ---- duty (presence) ----

	function setDuty(state, text) {
		const d = J.$('#duty');
		d.dataset.duty = state;
		d.textContent = text;
		toggle.setAttribute('aria-pressed', state === 'on' ? 'true' : 'false');
		toggle.textContent = state === 'on' || state === 'connecting' ? 'Go offline' : 'Go online';
		toggle.disabled = state === 'refused' || state === 'leaving';
	}

	/* retained, QoS 1, with an expiry so a lost "offline" cannot leave a ghost */
	function presence(c, status, ts) {
		return c.publish(presenceTopic, { status, ts }, { qos: 1, retain: true, properties: { messageExpiryInterval: PRESENCE_EXPIRY } });
	}

	function goOnline() {
		setDuty('connecting', 'Going online …');
		conn = J.connect(session, {
			// called before every connection attempt: the will and the
			// "online" message share the connection time (docs/drivers.md)
			will() {
				connectedAt = Date.now();
				return { topic: presenceTopic, payload: JSON.stringify({ status: 'offline', ts: connectedAt }),
					qos: 1, retain: true, properties: { messageExpiryInterval: PRESENCE_EXPIRY } };
			},
			async onConnect(c) {
				await presence(c, 'online', connectedAt);
				setDuty('on', 'Online since ' + J.fmtClock(connectedAt));
				const granted = await c.subscribe(['driver/' + sub + '/offers', 'order/+/status', 'order/+/driver'], 1);
				if (granted.some((g) => g >= 0x80)) J.banner('warn', 'the broker refused a subscription (SUBACK ' + granted.join(', ') + ')');
				clearInterval(presenceTimer);
				// keep the retained "online" from expiring while we are online
				presenceTimer = setInterval(() => { if (c.client.connected) presence(c, 'online', connectedAt).catch(() => {}); }, 240000);
				lastPub = null;   // a fresh position at once
				maybePublish();
			},
			onMessage,
			onRefused() {
				clearInterval(presenceTimer);
				setDuty('refused', 'Cannot go online: the broker refused the token');
			},
		});
	}

	async function goOffline() {
		const c = conn;
		conn = null;
		clearInterval(presenceTimer);
		setDuty('leaving', 'Going off duty …');
		try {
			if (c.client.connected) await presence(c, 'offline', Date.now()).catch(() => {});
		} finally {
			await c.end();   // a normal DISCONNECT: the will is not published
			setDuty('off', 'Off duty: not connected');
		}
	}

	toggle.addEventListener('click', () => {
		if (conn) goOffline();
		else goOnline();
	});

	// ---- simulated position and the location rule ----

	function target() {
		for (const o of store.orders.values()) {
			const mine = Object.values(o.drivers).find((d) => d.id === sub && d.role === 'pickup');
			if (mine && o.status === 'ASSIGNED_TO_DRIVER') {
				const p = pickups.get(o.id) || base;
				if (J.distanceM(pos, p) > 1) return { p, name: 'pickup of ' + o.number, stop: true };
			}
		}
		return { p: loop[wp], name: 'patrol waypoint ' + (wp + 1), stop: false };
	}

	/* Move `meters` along the route (waypoints chained; stops at a pickup). */
	function advance(meters) {
		let left = meters;
		for (let i = 0; i < 8 && left > 0.01; i++) {
			const t = target();
			const d = J.distanceM(pos, t.p);
			if (d > 0.5) heading = J.bearing(pos, t.p);
			const next = J.moveTowards(pos, t.p, left);
			left -= Math.min(d, left);
			pos = next;
			if (J.distanceM(pos, t.p) < 0.5) {
				if (t.stop) break;
				wp = (wp + 1) % loop.length;
			}
		}
	}

	function maybePublish() {
		const now = Date.now();
		const reason = J.locationDue(lastPub, pos, now);
		if (!reason || publishing || !conn || !conn.client.connected) return;
		publishing = true;
		const msg = { lat: Math.round(pos.lat * 1e6) / 1e6, lng: Math.round(pos.lng * 1e6) / 1e6, ts: now };
		if (heading !== null) msg.heading = (Math.round(heading * 10) / 10) % 360;
		msg.speed = autoDrive.checked ? SPEED : 0;
		msg.accuracy = 5;
		lastPub = { lat: msg.lat, lng: msg.lng, at: now };
		const out = J.$('#pos-published');
		conn.publish(locationTopic, msg, { qos: 1, retain: true, properties: { messageExpiryInterval: LOCATION_EXPIRY } })
			.then(() => {
				published += 1;
				const c = J.$('#pos-count');
				c.dataset.count = String(published);
				c.textContent = published + (published === 1 ? ' location' : ' locations');
				out.dataset.lat = String(msg.lat);
				out.dataset.lng = String(msg.lng);
				out.dataset.ts = String(msg.ts);
				out.textContent = J.fmtClock(now) + ' (' + reason + ')';
			})
			.catch((e) => {
				out.textContent = J.fmtClock(now) + ': ' + e.message + ' — over the rate limit or a bad payload (see the broker log)';
			})
			.finally(() => { publishing = false; });
	}

	function renderPosition() {
		const t = target();
		J.$('#pos-latlng').textContent = pos.lat.toFixed(5) + ', ' + pos.lng.toFixed(5);
		J.$('#pos-latlng').dataset.lat = String(pos.lat);
		J.$('#pos-latlng').dataset.lng = String(pos.lng);
		J.$('#pos-target').textContent = t.name + ', ' + J.fmtKm(J.distanceM(pos, t.p)) + ' away';
		map.set({ id: 'me', kind: 'driver', lat: pos.lat, lng: pos.lng, heading: heading === null ? undefined : heading,
			label: 'me (driver ' + sub + ')', state: conn ? '' : 'offline' });
	}

	J.$('#step').addEventListener('click', () => {
		advance(STEP);
		maybePublish();
		renderPosition();
	});
	setInterval(() => {
		if (autoDrive.checked) advance(SPEED);
		maybePublish();
		renderPosition();
	}, 1000);

	// ---- offers and assigned orders ----

	function onMessage(topic, text, packet) {
		if (topic === 'driver/' + sub + '/offers') {
			const offer = J.parseJson(text);
			if (!offer || !offer.orderId) return;
			offers.set(String(offer.orderId), offer);
			if (offer.pickup) {
				pickups.set(String(offer.orderId), offer.pickup);
				map.set({ id: 'offer-' + offer.orderId, kind: 'pickup', lat: offer.pickup.lat, lng: offer.pickup.lng, label: 'offer ' + (offer.orderNumber || offer.orderId) });
			}
			renderOffers();
			return;
		}
		store.handle(topic, text, packet);
	}

	function renderOffers() {
		const now = Date.now();
		const items = [];
		for (const [id, o] of offers) {
			const left = (Date.parse(o.expiresAt) - now) / 1000;
			if (left < -15) {   // gone a while ago
				offers.delete(id);
				map.remove('offer-' + id);
				continue;
			}
			const order = store.orders.get(id);
			const taken = order && Object.values(order.drivers).some((d) => d.id === sub);
			items.push(el('li', { class: 'offer' + (taken ? ' taken' : left <= 0 ? ' expired' : ''), dataset: { orderId: id, expiresAt: o.expiresAt } },
				el('div', {}, el('strong', {}, 'Order ' + (o.orderNumber || id)), ' · ',
					Number.isFinite(o.distanceKm) ? o.distanceKm.toFixed(2) + ' km away' : ''),
				el('div', { class: 'countdown', dataset: { secondsLeft: String(Math.max(0, Math.ceil(left))) } },
					taken ? 'assigned to you' : left > 0 ? 'expires in ' + Math.ceil(left) + ' s' : 'expired'),
				el('div', { class: 'muted' }, 'pickup ' + o.pickup.lat.toFixed(4) + ', ' + o.pickup.lng.toFixed(4) +
					' · accepting is a call to the platform\'s API')));
		}
		J.$('#offers').replaceChildren(...items);
		J.$('#no-offers').hidden = items.length > 0;
	}
	setInterval(renderOffers, 500);

	function renderAssigned() {
		const items = store.sorted().map((o) => {
			const roles = Object.values(o.drivers).filter((d) => d.id === sub).map((d) => d.role);
			return el('li', { dataset: { orderId: o.id, status: o.status }, class: J.TERMINAL.has(o.status) ? 'terminal' : null },
				el('span', { class: 'num' }, o.number), J.statusBadge(o.status),
				el('span', { class: 'when' }, roles.length ? roles.join(' + ') : 'no longer assigned'));
		});
		J.$('#assigned').replaceChildren(...items);
		J.$('#no-assigned').hidden = items.length > 0;
	}

	setDuty('off', 'Off duty: not connected');
	J.$('#conn').textContent = 'not connected (off duty)';
	renderPosition();
})();
