/*
 * bridge — the daemon's state machine: one poll loop that owns the
 * PostgreSQL connection, the MQTT link and every queue.
 *
 *   connect ─► handshake (status + retained checkpoint) ─► resync? ─► stream
 *
 * stream: read outbox rows (skipping the ones in flight), plan them
 * (relations first, then retained state), publish within the QoS 1 window,
 * delete rows once every message planned up to them is acknowledged.
 * docs/bridge.md describes it for operators.
 */
#ifndef JWB_BRIDGE_H
#define JWB_BRIDGE_H

#include <signal.h>

#include "config.h"

/* Run until SIGTERM/SIGINT (0) or a fatal error (1).  The caller blocks
 * those signals; the loop reads them from a signalfd. */
int jwb_bridge_run(const struct jwb_config *cfg, const sigset_t *stop_signals);

#endif
