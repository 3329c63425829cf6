// customer.mjs — a customer app's real-time connection to jetwire with
// mqtt.js 5 (Node.js; the same code runs in a browser bundle over ws://).
// It prints every order status, driver assignment and notification the
// customer receives, one line each:
//
//     order/1001/status {"orderId":"1001",...,"status":"PENDING",...,"version":1,...}
//
// What it shows (docs/client-guide.md explains each point):
//   - client id "customer-{sub}", the platform's JWT as the password, or
//     with --enhanced-auth as MQTT 5 enhanced authentication (method "jwt");
//   - clean start = false and a session expiry, so QoS 1 messages published
//     while the phone was offline are delivered when it comes back;
//   - subscribing with wildcards (each delivery is authorised by the broker),
//     at start and whenever the broker kept no session;
//   - dropping copies whose version is at or below the one already held;
//   - reconnecting with exponential backoff and jitter, re-reading the token
//     at every attempt;
//   - token refresh when the token file changes: by reconnecting (works with
//     any client), or with --enhanced-auth by an MQTT 5 AUTH packet on the
//     open connection (mqtt.js has no public call for that; see below).
//
// Tested with mqtt.js 5.16.0 against mosquitto 2.0.11 and the jetwire plugin.
// Run (npm install mqtt@5):
//     node customer.mjs [--url URL] [--count N] [--enhanced-auth] SUB TOKEN_FILE
//   URL         mqtt://127.0.0.1:1883 (default), ws://host:8080, mqtts://, wss://
//   SUB         the customer's id, as in the token's "sub" claim
//   TOKEN_FILE  a file holding the customer's current JWT; whatever refreshes
//               the token writes the new one there (the app's token store)
//   --count N   exit 0 after printing N messages (default: until SIGINT/SIGTERM)

import fs from 'node:fs'
import process from 'node:process'
import mqtt from 'mqtt'

const SESSION_EXPIRY_S = 3600
const BACKOFF_MIN_MS = 1000
const BACKOFF_MAX_MS = 60000

function usage () {
  console.error('usage: node customer.mjs [--url URL] [--count N] [--enhanced-auth] SUB TOKEN_FILE')
  process.exit(2)
}

const args = process.argv.slice(2)
let url = 'mqtt://127.0.0.1:1883'
let maxMessages = 0
let enhancedAuth = false
const positional = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--url' && i + 1 < args.length) url = args[++i]
  else if (args[i] === '--count' && i + 1 < args.length) maxMessages = Number(args[++i])
  else if (args[i] === '--enhanced-auth') enhancedAuth = true
  else if (args[i].startsWith('--')) usage()
  else positional.push(args[i])
}
if (positional.length !== 2 || !Number.isInteger(maxMessages) || maxMessages < 0) usage()
const [sub, tokenFile] = positional
if (sub === '' || /[/+#]/.test(sub)) {
  console.error('customer: SUB must be one topic level')
  process.exit(2)
}

function readToken () {
  return fs.readFileSync(tokenFile, 'utf8').trim()
}

// The client id must be customer-{sub} (or customer-{sub}-{device}).
const clientId = `customer-${sub}`
const filters = ['order/+/status', 'order/+/driver', `customer/${sub}/notifications`]

function credentials (token) {
  return enhancedAuth
    ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S, authenticationMethod: 'jwt', authenticationData: Buffer.from(token) } }
    : { username: 'jwt', password: token, properties: { sessionExpiryInterval: SESSION_EXPIRY_S } }
}

const client = mqtt.connect(url, {
  protocolVersion: 5,
  clientId,
  clean: false, // keep the session: queued QoS 1 messages survive a disconnect
  keepalive: 30,
  connectTimeout: 10000,
  reconnectPeriod: 0, // reconnect ourselves, with backoff and jitter
  resubscribe: false, // we decide when to subscribe (below)
  ...credentials(readToken())
})

let stopping = false
let refreshing = false
let reauthPending = false
let attempt = 0
let subscribedOnce = false
let printed = 0
const held = new Map() // topic (+ role for order/{id}/driver) -> version

// Exponential backoff with "equal jitter": half fixed, half random, so a
// fleet of phones that lost the broker together does not return together.
function backoffMs () {
  const d = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16))
  attempt++
  return d / 2 + Math.random() * (d / 2)
}

function reconnectWithFreshToken () {
  try {
    Object.assign(client.options, credentials(readToken()))
  } catch (e) {
    console.error(`customer: ${e.message}`)
  }
  client.reconnect()
}

client.on('connect', (connack) => {
  attempt = 0
  console.error(`customer: connected as ${clientId} (session present: ${connack.sessionPresent ? 'yes' : 'no'})`)
  // A kept session still has its subscriptions, and the broker delivers what
  // was queued while we were away.  Subscribe when it has none, and once per
  // process: subscribing is what sends the retained state.
  if (!connack.sessionPresent || !subscribedOnce) {
    subscribedOnce = true
    client.subscribe(filters, { qos: 1 }, (err) => {
      if (err) console.error(`customer: ${err.message} (codes: ${JSON.stringify(err.packet?.granted)})`)
    })
  }
})

// The bridge delivers at least once, and subscribing again sends the
// retained copy again: drop what is not newer than what we hold.
// order/{id}/driver carries one message per role (pickup, delivery), which
// may share a version, so the key there is topic + role.
function isNew (topic, msg) {
  if (typeof msg.version !== 'number') return true // notifications carry none
  const key = topic.endsWith('/driver') ? `${topic}#${msg.role}` : topic
  const have = held.get(key)
  if (have !== undefined && msg.version <= have) return false
  held.set(key, msg.version)
  return true
}

client.on('message', (topic, payload) => {
  if (maxMessages && printed >= maxMessages) return
  if (payload.length === 0) {
    console.log(`${topic} (cleared)`) // the order was deleted
  } else {
    let msg
    try {
      msg = JSON.parse(payload.toString('utf8'))
    } catch {
      console.error(`customer: ${topic}: not JSON`)
      return
    }
    if (!isNew(topic, msg)) return
    console.log(`${topic} ${payload.toString('utf8')}`)
  }
  printed++
  if (maxMessages && printed === maxMessages) stop(0)
})

// The broker's answer to a re-authentication: AUTH "Success" (0x00).  (A
// refused token is answered by mosquitto 2.0.11 with CONNACK 0x87 and the
// connection closes: the 'error' handler below, then the reconnect.)
let refreshedAt = 0
client.handleAuth = (packet, callback) => {
  if (reauthPending && packet.reasonCode === 0) {
    reauthPending = false
    refreshedAt = Date.now()
    console.error('customer: token refreshed in place (AUTH 0x00)')
  }
  callback()
}

client.on('error', (err) => {
  if (stopping) return // the socket closing under end()
  if (err.code === 0 && Date.now() - refreshedAt < 1000) {
    // mqtt.js before 5.16 also reports that AUTH "Success" as an error
    // with code 0: nothing went wrong.
  } else if (reauthPending && (err.code === 130 || err.code === 135)) {
    // A refused refresh: mosquitto 2.0.11 answers with CONNACK 0x87 and
    // closes the connection; mqtt.js 5.16 reports that unexpected CONNACK
    // as "Protocol error: duplicate CONNACK ..." (code 130).
    reauthPending = false
    console.error(`customer: token refresh refused: get a valid token into ${tokenFile}`)
  } else if (err.code === 135) {
    // CONNACK 0x87 at connect, or after a refused AUTH: the token is not
    // valid (expired, wrong key, client id not matching it).  The broker
    // closes the connection; the next attempt re-reads the token file.
    console.error(`customer: not authorized (0x87): get a new token into ${tokenFile}`)
  } else {
    console.error(`customer: ${err.message}${err.code !== undefined ? ` (code ${err.code})` : ''}`)
  }
})

client.on('disconnect', (packet) => {
  // DISCONNECT from the server: 0x98 when the token expired
  const rc = packet.reasonCode ?? 0
  console.error(`customer: DISCONNECT 0x${rc.toString(16).padStart(2, '0')}${rc === 0x98 ? ' (token expired)' : ''}`)
})

client.on('close', () => {
  reauthPending = false
  if (stopping || refreshing) return
  const delay = backoffMs()
  console.error(`customer: connection closed; reconnecting in ${Math.round(delay)} ms`)
  setTimeout(() => { if (!stopping) reconnectWithFreshToken() }, delay)
})

// Token refresh: a new token in the file.
fs.watchFile(tokenFile, { interval: 1000 }, (cur, prev) => {
  if (cur.mtimeMs === prev.mtimeMs || stopping || !client.connected) return
  let token
  try {
    token = readToken()
  } catch (e) {
    console.error(`customer: ${e.message}`)
    return
  }
  if (enhancedAuth) {
    // MQTT 5 re-authentication: AUTH, reason 0x19, same method, new data.
    // mqtt.js 5 has no public method to send it, so this uses the client's
    // internal _sendPacket; keep the reconnect path below as the fallback.
    client.options.properties.authenticationData = Buffer.from(token)
    reauthPending = true
    client._sendPacket({
      cmd: 'auth',
      reasonCode: 0x19,
      properties: { authenticationMethod: 'jwt', authenticationData: Buffer.from(token) }
    })
  } else {
    // Any client: disconnect normally and connect again with the new token;
    // clean start = false keeps the session and what was queued meanwhile.
    console.error('customer: new token: reconnecting with it')
    refreshing = true
    client.end(false, () => {
      refreshing = false
      if (!stopping) reconnectWithFreshToken()
    })
  }
})

function stop (code) {
  if (stopping) return
  stopping = true
  fs.unwatchFile(tokenFile)
  client.end(false, () => process.exit(code))
  setTimeout(() => process.exit(code), 2000).unref()
}

process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))
