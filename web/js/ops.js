/*
 * Operations page (admin token): the plugin's counters under
 * $SYS/broker/jetwire/ (docs/operations.md), a few of mosquitto's own $SYS
 * figures, and the bridge's stats retained on jetwire/bridge/stats
 * (docs/bridge.md), as live numbers and small charts.
 */
(async function () {
	'use strict';
	const J = window.Jetwire;
	const el = J.el;
	const session = await J.session('admin');
	const SYS = '$SYS/broker/jetwire/';
	const values = new Map();    // metric key -> number
	let sysAt = null, bridgeAt = null, bridgeStats = null;

	// [key, label, bad-when-nonzero]; keys under $SYS/broker/jetwire/ unless prefixed
	const BROKER_TILES = [
		['connections/active', 'clients connected (jetwire)'],
		['connections/customer/active', 'customers'],
		['connections/merchant/active', 'merchants'],
		['connections/driver/active', 'drivers'],
		['connections/admin/active', 'admins'],
		['connections/service/active', 'service (bridge)'],
		['auth/failures/total', 'failed authentications', true],
		['auth/expired_disconnects', 'expired-token disconnects'],
		['acl/denied/write', 'publishes denied (ACL)', true],
		['acl/denied/subscribe', 'subscriptions denied', true],
		['acl/denied/read', 'deliveries withheld (ACL)'],
		['publish/refused/total', 'locations/presence refused', true],
		['relations/count', 'relations held'],
		['control/commands', 'control commands'],
		['sys:clients/connected', 'mosquitto: clients connected'],
		['sys:load/messages/received/1min', 'messages in / min (1 min avg)'],
		['sys:load/messages/sent/1min', 'messages out / min (1 min avg)'],
	];
	const BRIDGE_TILES = [
		['bridge:uptimeSeconds', 'uptime (s)'],
		['bridge:changesPerSecond', 'changes / s'],
		['bridge:publishLatencyMs.p50', 'latency p50 (ms)'],
		['bridge:publishLatencyMs.p99', 'latency p99 (ms)'],
		['bridge:backlog.rows', 'outbox backlog (rows)'],
		['bridge:backlog.oldestAgeSeconds', 'oldest waiting (s)'],
		['bridge:totals.published', 'published'],
		['bridge:totals.resyncs', 'resyncs'],
		['bridge:totals.deadLetters', 'dead letters', true],
		['bridge:totals.mqttLosses', 'broker connection losses', true],
		['bridge:totals.dbReconnects', 'database reconnects', true],
		['bridge:maxRssKiB', 'peak memory (KiB)'],
	];
	const CHARTS = [
		['connections/active', 'clients connected'],
		['sys:load/messages/received/1min', 'messages in / min'],
		['sys:load/messages/sent/1min', 'messages out / min'],
		['bridge:changesPerSecond', 'bridge changes / s'],
		['bridge:publishLatencyMs.p99', 'bridge latency p99 (ms)'],
		['bridge:backlog.rows', 'outbox backlog (rows)'],
		['relations/count', 'relations held'],
		['auth/failures/total', 'failed authentications'],
	];

	function tiles(container, defs) {
		container.replaceChildren(...defs.map(([key, label, bad]) => el('div', { class: 'tile', dataset: { metric: key, bad: bad ? '1' : '' } },
			el('div', { class: 'value' }, '—'), el('div', { class: 'label' }, label))));
	}
	tiles(J.$('#broker-tiles'), BROKER_TILES);
	tiles(J.$('#bridge-tiles'), BRIDGE_TILES);
	const charts = new Map(CHARTS.map(([key, label]) => {
		const box = el('div', { class: 'chart', dataset: { metric: key } },
			el('div', { class: 'head' }, el('span', {}, label), el('span', { class: 'now' }, '—')));
		J.$('#charts').append(box);
		return [key, { box, spark: J.Sparkline(box, 90) }];
	}));

	const fmt = (v) => (Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(v < 10 ? 2 : 1));

	function set(key, v) {
		if (!Number.isFinite(v)) return;
		values.set(key, v);
		for (const t of document.querySelectorAll('.tile[data-metric="' + CSS.escape(key) + '"]')) {
			t.querySelector('.value').textContent = fmt(v);
			t.dataset.value = String(v);
			t.classList.toggle('bad', t.dataset.bad === '1' && v > 0);
		}
	}

	function counterRow(topic, text) {
		const tbody = J.$('#counters tbody');
		let row = tbody.querySelector('tr[data-topic="' + CSS.escape(topic) + '"]');
		if (!row) {
			row = el('tr', { dataset: { topic } }, el('td', { class: 'mono' }, topic.slice(SYS.length)), el('td', {}));
			const rows = [...tbody.children];
			const after = rows.find((r) => r.dataset.topic > topic);
			tbody.insertBefore(row, after || null);
		}
		row.lastChild.textContent = text;
		row.dataset.value = text;
	}

	function flatten(prefix, obj) {
		for (const [k, v] of Object.entries(obj || {})) {
			if (v && typeof v === 'object') flatten(prefix + k + '.', v);
			else set(prefix + k, Number(v));
		}
	}

	function onMessage(topic, text) {
		if (topic.startsWith(SYS)) {
			sysAt = Date.now();
			set(topic.slice(SYS.length), Number(text));
			counterRow(topic, text);
		} else if (topic.startsWith('$SYS/broker/')) {
			set('sys:' + topic.slice('$SYS/broker/'.length), Number(text));
		} else if (topic === 'jetwire/bridge/stats') {
			const s = J.parseJson(text);
			if (!s) return;
			bridgeStats = s;
			bridgeAt = Date.now();
			flatten('bridge:', s);
			J.$('#no-bridge').hidden = true;
		}
	}

	// the charts sample every value every 2 s (counters are published only when they change)
	setInterval(() => {
		for (const [key, c] of charts) {
			if (!values.has(key)) continue;
			c.spark.push(values.get(key));
			c.box.querySelector('.now').textContent = fmt(values.get(key));
		}
		J.$('#sys-age').textContent = sysAt ? '(last update ' + J.fmtAgo(sysAt) + ')' : '';
		J.$('#bridge-age').textContent = bridgeStats ? '(' + (bridgeStats.timestamp || '') + ', received ' + J.fmtAgo(bridgeAt) + ')' : '';
	}, 2000);

	J.connect(session, {
		async onConnect(conn) {
			const granted = await conn.subscribe([SYS + '#', '$SYS/broker/clients/connected',
				'$SYS/broker/load/messages/received/1min', '$SYS/broker/load/messages/sent/1min', 'jetwire/bridge/stats'], 0);
			if (granted.some((g) => g >= 0x80)) J.banner('warn', 'the broker refused a subscription (SUBACK ' + granted.join(', ') + '): is this an admin token?');
		},
		onMessage,
	});
})();
