/*
 * The web demo in a real browser: Debian's chromium driven by playwright-core
 * against a running stack (PostgreSQL, mosquitto + plugin serving the web
 * root on its WebSocket listener, the bridge).  Started by test/web/run.sh,
 * which passes everything in the environment:
 *
 *   WEB_URL, DATABASE_URL, MQTT_PORT        the stack
 *   TOKEN_CUSTOMER1, TOKEN_CUSTOMER2, TOKEN_MERCHANT1, TOKEN_DRIVER1,
 *   TOKEN_ADMIN, TOKEN_EXPIRED               tokens (the last one for customer 1, expired an hour ago)
 *   ARTIFACTS                               where the screenshots go
 *   JW_WEB_NODE_MODULES                     node_modules holding playwright-core
 *   CHROMIUM                                the browser (/usr/bin/chromium)
 *
 * The scenario is one story; each step names the behaviour it proves and a
 * failing step ends the run (the later ones build on it).  The test changes
 * orders with plain SQL (psql) and looks at the database and the broker with
 * psql and mosquitto_sub; the driver's location and presence come from the
 * driver page itself.
 */
'use strict';

const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');
const { chromium } = require(path.join(process.env.JW_WEB_NODE_MODULES, 'playwright-core'));

const env = (name) => {
	const v = process.env[name];
	if (!v) throw new Error('environment variable ' + name + ' is not set (run test/web/run.sh)');
	return v;
};
const WEB_URL = env('WEB_URL');
const DATABASE_URL = env('DATABASE_URL');
const MQTT_PORT = env('MQTT_PORT');
const ARTIFACTS = env('ARTIFACTS');
const TOKENS = {
	customer1: env('TOKEN_CUSTOMER1'), customer2: env('TOKEN_CUSTOMER2'), merchant1: env('TOKEN_MERCHANT1'),
	driver1: env('TOKEN_DRIVER1'), admin: env('TOKEN_ADMIN'), expired: env('TOKEN_EXPIRED'),
};
const WAIT_MS = 15000;
const REFUSED_MESSAGE = 'token refused: expired or invalid — get a new one';

// ---------------------------------------------------------------- helpers

function sql(query) {
	return execFileSync('psql', [DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-qAtX', '-c', query],
		{ encoding: 'utf8', timeout: 20000 }).trim();
}

/* Poll a database query until check(result) holds. */
async function sqlUntil(query, check, what) {
	const deadline = Date.now() + WAIT_MS;
	let last;
	while (Date.now() < deadline) {
		last = sql(query);
		if (check(last)) return last;
		await sleep(200);
	}
	throw new Error(what + ': not within ' + WAIT_MS / 1000 + ' s (last result: "' + last + '")');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Wait until fn(arg) is truthy in the page; a readable error otherwise. */
async function until(page, what, fn, arg, timeout) {
	try {
		return await (await page.waitForFunction(fn, arg, { timeout: timeout || WAIT_MS, polling: 100 })).jsonValue();
	} catch (e) {
		throw new Error(what + ': not within ' + (timeout || WAIT_MS) / 1000 + ' s (' + e.message.split('\n')[0] + ')');
	}
}

function assert(cond, message) {
	if (!cond) throw new Error(message);
}

const pages = {};
let shot = 0;
async function screenshot(name) {
	shot += 1;
	const file = path.join(ARTIFACTS, String(shot).padStart(2, '0') + '-' + name + '.png');
	await pages[name].screenshot({ path: file, fullPage: true });
	console.log('  screenshot: ' + file);
}

let browser;
/* A page in its own browser context (own storage), logged in with a token. */
async function open(name, file, token, initScript) {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => console.log('  [' + name + '] page error: ' + e.message));
	page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log('  [' + name + '] console ' + m.type() + ': ' + m.text()); });
	if (initScript) await page.addInitScript(initScript);
	const resp = await page.goto(WEB_URL + file + (token ? '#token=' + token : ''));
	assert(resp && resp.status() === 200, file + ': HTTP ' + (resp && resp.status()));
	pages[name] = page;
	return page;
}

const connected = (page, name) => until(page, name + ' page connected',
	() => document.querySelector('#conn').dataset.state === 'connected');

const steps = [];
const step = (name, fn) => steps.push({ name, fn });

// ---------------------------------------------------------------- the story

const ORDER = '9101';          // customer 1's order, merchant 1
const ORDER_NEW = '9102';      // a second order of customer 1, created while the merchant watches
const ORDER_OTHER = '9103';    // customer 2's own order
let driverName;
let published;                 // the driver page's last published position

step('pages load from the broker (index, mqtt.min.js, config.js, every page)', async () => {
	const page = await open('index', 'index.html');
	assert(await page.title() === 'jetwire · web demo', 'index title: ' + await page.title());
	const ws = await page.textContent('#ws-url');
	assert(/^wss?:\/\//.test(ws), 'config.js gives no wsUrl: "' + ws + '"');
	assert(await page.locator('.roles a.role').count() === 4, 'index: four role pages');
	for (const f of ['customer.html', 'merchant.html', 'driver.html', 'ops.html', 'mqtt.min.js', 'config.js', 'js/jetwire.js', 'css/jetwire.css']) {
		const r = await page.request.get(WEB_URL + f);
		assert(r.status() === 200, f + ': HTTP ' + r.status());
	}
	await screenshot('index');
});

step('driver page: going online publishes a retained presence the bridge stores', async () => {
	const page = await open('driver', 'driver.html', TOKENS.driver1);
	await until(page, 'driver page ready', () => document.querySelector('#duty').dataset.duty === 'off');
	await page.uncheck('#auto-drive');    // hold still: the test moves the driver itself
	await page.click('#online-toggle');
	await until(page, 'driver online', () => document.querySelector('#duty').dataset.duty === 'on');
	published = await until(page, 'first location published', () => {
		const p = document.querySelector('#pos-published');
		return p.dataset.ts ? { lat: Number(p.dataset.lat), lng: Number(p.dataset.lng), ts: Number(p.dataset.ts) } : null;
	});
	// the bridge persisted presence and position (jetwire.driver_position)
	await sqlUntil("SELECT presence || ' ' || lat || ' ' || lng FROM jetwire.driver_position WHERE driver_id = '1'",
		(r) => r === 'online ' + published.lat + ' ' + published.lng, 'driver 1 online at its position in jetwire.driver_position');
	// and the broker holds the presence retained
	const out = execFileSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', MQTT_PORT, '-V', 'mqttv5', '-i', 'admin-1-webtest',
		'-u', 'jwt', '-P', TOKENS.admin, '-t', 'driver/1/presence', '-C', '1', '-W', '10', '-F', '%r %p'], { encoding: 'utf8' }).trim();
	const [retained, payload] = [out.slice(0, 1), JSON.parse(out.slice(2))];
	assert(retained === '1' && payload.status === 'online', 'retained presence: ' + out);
	driverName = sql('SELECT name FROM drivers WHERE id = 1');
});

step('customer and merchant pages show an order from the retained state on connect', async () => {
	sql(`INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (${ORDER}, 'WEB-${ORDER}', 1, 1)`);
	// customer 2's page records every order id it ever renders
	const recordOrders = () => {
		window.__ordersSeen = [];
		new MutationObserver(() => {
			for (const e of document.querySelectorAll('[data-order-id]')) {
				if (!window.__ordersSeen.includes(e.dataset.orderId)) window.__ordersSeen.push(e.dataset.orderId);
			}
		}).observe(document, { subtree: true, childList: true, attributes: true });
	};
	const c2 = await open('customer2', 'customer.html', TOKENS.customer2, recordOrders);
	const c1 = await open('customer1', 'customer.html', TOKENS.customer1);
	const m1 = await open('merchant1', 'merchant.html', TOKENS.merchant1);
	await Promise.all([connected(c1, 'customer 1'), connected(c2, 'customer 2'), connected(m1, 'merchant 1')]);
	await until(c1, 'customer 1 shows the order', (id) =>
		document.querySelector(`#orders li[data-order-id="${id}"][data-status="PENDING"]`), ORDER);
	await until(m1, 'merchant 1 shows the order from the retained state', (id) =>
		document.querySelector(`#queue tr[data-order-id="${id}"][data-status="PENDING"][data-source="retained"]`), ORDER);
	const who = await c1.getAttribute('#who', 'data-sub');
	assert(who === '1', 'customer page shows sub ' + who);
});

step('a status change made in SQL appears on the customer and merchant pages', async () => {
	sql(`UPDATE orders SET status = 'CONFIRMED' WHERE id = ${ORDER}`);
	await until(pages.customer1, 'customer 1 sees CONFIRMED', (id) =>
		document.querySelector(`#orders li[data-order-id="${id}"][data-status="CONFIRMED"]`)
		&& document.querySelector('#timeline li.current[data-status="CONFIRMED"]'), ORDER);
	await until(pages.merchant1, 'merchant 1 sees CONFIRMED', (id) =>
		document.querySelector(`#queue tr[data-order-id="${id}"][data-status="CONFIRMED"]`), ORDER);
});

step('driver page: the offer of a CONFIRMED order nearby appears with a countdown', async () => {
	const page = pages.driver;
	const first = await until(page, 'driver 1 shows the offer', (id) => {
		const o = document.querySelector(`#offers li.offer[data-order-id="${id}"]`);
		return o && /^expires in \d+ s$/.test(o.querySelector('.countdown').textContent)
			? Number(o.querySelector('.countdown').dataset.secondsLeft) : null;
	}, ORDER);
	assert(first > 0, 'offer countdown starts at ' + first);
	await screenshot('driver');
	await until(page, 'the countdown counts down', ([id, from]) =>
		Number(document.querySelector(`#offers li.offer[data-order-id="${id}"] .countdown`).dataset.secondsLeft) < from, [ORDER, first]);
});

step('an assigned driver appears on the customer page (card, presence, map) and on the merchant page', async () => {
	sql(`UPDATE orders SET status = 'ASSIGNED_TO_DRIVER', pickup_driver_id = 1 WHERE id = ${ORDER}`);
	const c1 = pages.customer1;
	await until(c1, 'customer 1 sees the driver card, online', (name) => {
		const card = document.querySelector('#drivers .driver-card[data-driver-id="1"]');
		return card && card.querySelector('.name').textContent === name
			&& card.querySelector('.presence').dataset.presence === 'online';
	}, driverName);
	await until(c1, 'customer 1 sees the driver on the map at its published position', (p) => {
		const g = document.querySelector('#map g.pt.driver[data-id="driver-1"]');
		return g && Number(g.dataset.lat) === p.lat && Number(g.dataset.lng) === p.lng;
	}, published);
	await until(pages.merchant1, 'merchant 1 sees the driver en route', ([id, name]) =>
		document.querySelector(`#queue tr[data-order-id="${id}"] td.driver`).textContent === name
		&& document.querySelector('#enroute [data-driver-id="1"] .presence[data-presence="online"]')
		&& document.querySelector('#map g.pt.driver[data-id="driver-1"]'), [ORDER, driverName]);
	await until(pages.driver, 'driver 1 sees the order assigned', (id) =>
		document.querySelector(`#assigned li[data-order-id="${id}"][data-status="ASSIGNED_TO_DRIVER"]`), ORDER);
});

step('the driver marker moves when the driver page publishes a new position (100 m rule)', async () => {
	const marker = '#map g.pt.driver[data-id="driver-1"]';
	const before = await pages.customer1.getAttribute(marker, 'transform');
	const beforeMerchant = await pages.merchant1.getAttribute(marker, 'transform');
	const sinceTs = Number(await pages.driver.getAttribute('#pos-published', 'data-ts'));
	await pages.driver.click('#step');    // 150 m towards the pickup: over 100 m, published at once
	// (the page may also republish the old position meanwhile: the 15 s rule)
	const now = await until(pages.driver, 'driver page publishes the moved position', (ts) => {
		const p = document.querySelector('#pos-published');
		return Number(p.dataset.ts) > ts && /moved/.test(p.textContent)
			? { lat: Number(p.dataset.lat), lng: Number(p.dataset.lng), ts: Number(p.dataset.ts), text: p.textContent } : null;
	}, sinceTs);
	assert(/moved 1[45]\d m/.test(now.text), 'published after moving ' + now.text);
	// the rule itself, as the page applies it: 100 m or 15 s since the last publish
	const rule = await pages.driver.evaluate(() => {
		const J = window.Jetwire, at = 1800000000000, last = { lat: 52.52, lng: 13.405, at };
		const north = (m) => ({ lat: 52.52 + m / 111195, lng: 13.405 });
		return [J.locationDue(last, north(99), at + 14999), J.locationDue(last, north(101), at + 1000),
			J.locationDue(last, north(0), at + 15000), J.locationDue(null, north(0), at)];
	});
	assert(rule[0] === null && /^moved 10\d m$/.test(rule[1]) && rule[2] === '15 s elapsed' && rule[3] === 'first position',
		'location rule: ' + JSON.stringify(rule));
	assert(now.lat !== published.lat || now.lng !== published.lng, 'the published position did not change');
	for (const [name, from] of [['customer1', before], ['merchant1', beforeMerchant]]) {
		await until(pages[name], name + ': driver marker at the new position, moved on the map', ([sel, p, old]) => {
			const g = document.querySelector(sel);
			return g && Number(g.dataset.lat) === p.lat && Number(g.dataset.lng) === p.lng && g.getAttribute('transform') !== old;
		}, [marker, now, from]);
	}
	await pages.customer1.waitForTimeout(1000);   // let the glide finish for the screenshot
	const after = await pages.customer1.getAttribute(marker, 'transform');
	assert(after !== before, 'customer 1 marker transform unchanged: ' + after);
	console.log('  marker: ' + before + ' -> ' + after);
	published = now;
	await screenshot('customer1');
	await screenshot('driver');
});

step('a new order is highlighted on the merchant page until acknowledged', async () => {
	sql(`INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (${ORDER_NEW}, 'WEB-${ORDER_NEW}', 1, 1)`);
	const m1 = pages.merchant1;
	await until(m1, 'merchant 1 highlights the new order', (id) =>
		document.querySelector(`#queue tr.new[data-order-id="${id}"][data-source="live"] .badge.new`), ORDER_NEW);
	assert(await m1.locator(`#queue tr.new[data-order-id="${ORDER}"]`).count() === 0, 'the older order is highlighted too');
	await screenshot('merchant1');
	await m1.click(`#queue tr[data-order-id="${ORDER_NEW}"] button.ack`);
	await until(m1, 'highlight removed once seen', (id) => !document.querySelector(`#queue tr.new[data-order-id="${id}"]`), ORDER_NEW);
});

step('driver goes off duty: offline presence on the customer page and in the database', async () => {
	await pages.driver.click('#online-toggle');
	await until(pages.driver, 'driver off duty', () => document.querySelector('#duty').dataset.duty === 'off');
	await until(pages.customer1, 'customer 1 sees the driver offline', () =>
		document.querySelector('#drivers .driver-card[data-driver-id="1"] .presence').dataset.presence === 'offline'
		&& document.querySelector('#map g.pt.driver[data-id="driver-1"]').dataset.state === 'offline');
	await sqlUntil("SELECT presence FROM jetwire.driver_position WHERE driver_id = '1'", (r) => r === 'offline',
		'driver 1 offline in jetwire.driver_position');
});

step('a second customer\'s page never shows the first customer\'s orders', async () => {
	// customer 2's own order, committed after all of customer 1's changes:
	// the bridge publishes in commit order, so once it is on the page
	// anything of customer 1's would have arrived before it.
	sql(`INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (${ORDER_OTHER}, 'WEB-${ORDER_OTHER}', 2, 1)`);
	const c2 = pages.customer2;
	await until(c2, 'customer 2 shows its own order', (id) =>
		document.querySelector(`#orders li[data-order-id="${id}"]`), ORDER_OTHER);
	await until(pages.customer1, 'customer 1 shows both its orders', ([a, b]) =>
		document.querySelector(`#orders li[data-order-id="${a}"]`) && document.querySelector(`#orders li[data-order-id="${b}"]`), [ORDER, ORDER_NEW]);
	const ids = await c2.$$eval('#orders li', (lis) => lis.map((li) => li.dataset.orderId));
	assert(JSON.stringify(ids) === JSON.stringify([ORDER_OTHER]), 'customer 2 lists ' + JSON.stringify(ids));
	const seen = await c2.evaluate(() => window.__ordersSeen);
	assert(!seen.includes(ORDER) && !seen.includes(ORDER_NEW), 'customer 2 rendered at some point ' + JSON.stringify(seen));
	assert(await c2.locator('#map g.pt.driver').count() === 0, 'customer 2 shows a driver on its map');
	assert((await c2.textContent('body')).indexOf('WEB-' + ORDER) < 0, 'customer 2 page mentions WEB-' + ORDER);
	await screenshot('customer2');
});

step('a page with an expired token shows a clear error and stops retrying', async () => {
	const page = await open('expired', 'customer.html', TOKENS.expired);
	await until(page, 'the refusal is shown', (msg) => {
		const b = document.querySelector('#banner');
		return !b.hidden && b.dataset.kind === 'error' && b.textContent.includes(msg)
			&& document.querySelector('#conn').dataset.state === 'refused';
	}, REFUSED_MESSAGE);
	assert(await page.getAttribute('#who', 'data-expired') === 'true', 'the header does not flag the expired token');
	assert((await page.textContent('#who')).includes('token expired'), 'header: ' + await page.textContent('#who'));
	// the client gave up: still one attempt after more than two reconnect periods (2 s)
	await page.waitForTimeout(4500);
	const attempts = await page.getAttribute('#conn', 'data-attempts');
	const state = await page.getAttribute('#conn', 'data-state');
	assert(attempts === '1' && state === 'refused', 'after the refusal: attempts ' + attempts + ', state ' + state);
	await screenshot('expired');
});

step('ops page shows the plugin counters and the bridge stats, live', async () => {
	const page = await open('ops', 'ops.html', TOKENS.admin);
	await connected(page, 'ops');
	const tile = (key) => `.tile[data-metric="${key}"]`;
	const v = (p, key) => p.getAttribute(tile(key), 'data-value').then(Number);
	await until(page, 'connection counters', (sel) => Number(document.querySelector(sel).dataset.value) >= 3,
		tile('connections/active'), 25000);
	await until(page, 'the expired token counted', () => {
		const r = document.querySelector('#counters tr[data-topic="$SYS/broker/jetwire/auth/failures/expired"]');
		return r && Number(r.dataset.value) >= 1;
	}, undefined, 25000);
	await until(page, 'bridge stats', (sel) => document.querySelector(sel).dataset.value !== undefined,
		tile('bridge:uptimeSeconds'), 25000);
	assert(await v(page, 'bridge:totals.published') > 0, 'bridge published nothing?');
	assert(await page.locator('#counters tr').count() >= 10, 'fewer than 10 counters listed');
	await until(page, 'a chart with samples', () =>
		Number((document.querySelector('.chart[data-metric="connections/active"] svg') || {}).dataset?.samples) >= 2);
	await screenshot('ops');
});

// ---------------------------------------------------------------- runner

(async () => {
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		// a fresh temporary profile per launch (playwright's default)
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	console.log('browser: chromium ' + browser.version() + ', pages from ' + WEB_URL);
	let passed = 0, failed = 0;
	for (const [i, s] of steps.entries()) {
		const t0 = Date.now();
		try {
			await s.fn();
			passed += 1;
			console.log('ok ' + (i + 1) + ' - ' + s.name + ' (' + ((Date.now() - t0) / 1000).toFixed(1) + ' s)');
		} catch (e) {
			failed += 1;
			console.log('not ok ' + (i + 1) + ' - ' + s.name);
			console.log('  ' + String(e && e.stack || e).split('\n').join('\n  '));
			for (const [name, page] of Object.entries(pages)) {
				const file = path.join(ARTIFACTS, 'failure-' + name + '.png');
				await page.screenshot({ path: file, fullPage: true }).catch(() => {});
				console.log('  failure screenshot: ' + file);
			}
			const left = steps.length - i - 1;
			if (left) console.log('  (' + left + ' later step(s) not run: they build on this one)');
			break;
		}
	}
	await browser.close();
	console.log('web: ' + passed + ' of ' + steps.length + ' steps passed' + (failed ? ' (step ' + (passed + 1) + ' failed)' : '') + '; screenshots in ' + ARTIFACTS);
	process.exit(failed || passed !== steps.length ? 1 : 0);
})().catch(async (e) => {
	console.error('web test: ' + (e && e.stack || e));
	if (browser) await browser.close().catch(() => {});
	process.exit(1);
});
