/*
 * outbox — see outbox.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "payload.h"
#include "positions.h"

struct jwb_db {
	PGconn *conn;
	char *driver_sql;        /* jetwire.driver_lookup_sql(), NULL when none */
	char *tracker_sql;       /* jetwire.tracker_keep_sql(), NULL when none */
	char *offer_sql;         /* jetwire.offers_sql(), NULL when none */
	bool in_resync;
};

/* "what: the server's message" (one line). */
static void describe(char *errbuf, size_t errlen, const char *what, PGconn *conn, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	if (!msg || !*msg)
		msg = PQerrorMessage(conn);
	char line[512];
	snprintf(line, sizeof(line), "%s", msg && *msg ? msg : "unknown error");
	size_t len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = '\0';
	for (char *c = line; *c; c++)
		if (*c == '\n')
			*c = ' ';
	snprintf(errbuf, errlen, "%s: %s", what, line);
}

static PGresult *exec_params(struct jwb_db *db, const char *what, const char *sql, int n,
		const char *const *values, ExecStatusType want, char *errbuf, size_t errlen)
{
	PGresult *res = PQexecParams(db->conn, sql, n, NULL, values, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != want) {
		describe(errbuf, errlen, what, db->conn, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

static int exec_command(struct jwb_db *db, const char *what, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *res = exec_params(db, what, sql, 0, NULL, PGRES_COMMAND_OK, errbuf, errlen);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

static void ignore_notice(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

/* Replace *sql with the text the registry function `fn` generates (NULL
 * when it generates none). */
static int load_generated_sql(struct jwb_db *db, const char *fn, char **sql, char *errbuf, size_t errlen)
{
	char what[96], query[96];
	snprintf(what, sizeof(what), "reading jetwire.%s()", fn);
	snprintf(query, sizeof(query), "SELECT jetwire.%s()", fn);
	PGresult *res = exec_params(db, what, query, 0, NULL, PGRES_TUPLES_OK, errbuf, errlen);
	if (!res)
		return -1;
	free(*sql);
	*sql = NULL;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*sql = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* The generated queries follow the registry: read again at every connect
 * and resync, so registering a table needs no bridge restart. */
static int load_driver_sql(struct jwb_db *db, char *errbuf, size_t errlen)
{
	if (load_generated_sql(db, "driver_lookup_sql", &db->driver_sql, errbuf, errlen) != 0 ||
	    load_generated_sql(db, "tracker_keep_sql", &db->tracker_sql, errbuf, errlen) != 0 ||
	    load_generated_sql(db, "offers_sql", &db->offer_sql, errbuf, errlen) != 0)
		return -1;
	return 0;
}

struct jwb_db *jwb_db_connect(const char *conninfo, bool migrate, char *errbuf, size_t errlen)
{
	/* Keywords before "dbname" are defaults that the conninfo overrides. */
	const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *vals[] = {"10", "jetwire-bridge", conninfo, NULL};
	struct jwb_db *db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		describe(errbuf, errlen, "cannot connect to PostgreSQL", db->conn, NULL);
		jwb_db_close(db);
		return NULL;
	}
	PQsetNoticeReceiver(db->conn, ignore_notice, NULL);
	if (exec_command(db, "session setup", "SET TimeZone = 'UTC'", errbuf, errlen) != 0 ||
	    exec_command(db, "session setup", "SET DateStyle = 'ISO'", errbuf, errlen) != 0) {
		jwb_db_close(db);
		return NULL;
	}
	if (migrate) {
		char why[768];
		if (jw_migrate(db->conn, why, sizeof(why), NULL) != 0) {
			snprintf(errbuf, errlen, "%s", why);
			jwb_db_close(db);
			return NULL;
		}
	}
	if (exec_command(db, "LISTEN jetwire_outbox", "LISTEN jetwire_outbox", errbuf, errlen) != 0) {
		jwb_db_close(db);
		return NULL;
	}
	if (load_driver_sql(db, errbuf, errlen) != 0) {
		jwb_db_close(db);
		return NULL;
	}
	return db;
}

void jwb_db_close(struct jwb_db *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db->driver_sql);
	free(db->tracker_sql);
	free(db->offer_sql);
	free(db);
}

int jwb_db_socket(const struct jwb_db *db)
{
	return PQsocket(db->conn);
}

bool jwb_db_ok(const struct jwb_db *db)
{
	return db && PQstatus(db->conn) == CONNECTION_OK;
}

int jwb_db_drain_notifies(struct jwb_db *db, char *errbuf, size_t errlen)
{
	if (!PQconsumeInput(db->conn)) {
		describe(errbuf, errlen, "PostgreSQL connection", db->conn, NULL);
		return -1;
	}
	int n = 0;
	PGnotify *note;
	while ((note = PQnotifies(db->conn))) {
		n++;
		PQfreemem(note);
	}
	return n;
}

/* "{1,2,3}" for an id list. */
static char *id_array(const int64_t *ids, size_t n)
{
	size_t cap = 3 + n * 21;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t len = 0;
	s[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64, i ? "," : "", ids[i]);
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* A text[] literal, every element quoted (ids may hold '"' or '\\'). */
static char *text_array(const char *const *items, size_t n)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++)
		cap += strlen(items[i]) * 2 + 3;
	char *arr = malloc(cap);
	if (!arr)
		return NULL;
	size_t len = 0;
	arr[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			arr[len++] = ',';
		arr[len++] = '"';
		for (const char *c = items[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				arr[len++] = '\\';
			arr[len++] = *c;
		}
		arr[len++] = '"';
	}
	arr[len++] = '}';
	arr[len] = '\0';
	return arr;
}

enum {
	OB_ID, OB_ENTITY, OB_ENTITY_ID, OB_VERSION, OB_OP, OB_CREATED,
	OB_ORDER_NUMBER, OB_STATUS, OB_PREV_STATUS, OB_CUSTOMER, OB_MERCHANT,
	OB_PICKUP, OB_DELIVERY, OB_PREV_PICKUP, OB_PREV_DELIVERY,
	OB_USER_TYPE, OB_USER_ID, OB_TITLE, OB_BODY, OB_DATA, OB_COLUMNS
};
_Static_assert(OB_COLUMNS == 20, "read_sql selects one column per OB_ constant");

static const char read_sql[] =
	"SELECT id, entity, entity_id, version, op, created_at,"
	" data->>'orderNumber', data->>'status', data->>'previousStatus',"
	" data->>'customerId', data->>'merchantId', data->>'pickupDriverId', data->>'deliveryDriverId',"
	" data->>'previousPickupDriverId', data->>'previousDeliveryDriverId',"
	" data->>'userType', data->>'userId', data->>'title', data->>'body',"
	" CASE WHEN data->'data' IS NULL OR jsonb_typeof(data->'data') = 'null' THEN NULL"
	"      ELSE (data->'data')::text END"
	" FROM jetwire.outbox WHERE id <> ALL ($1::bigint[]) ORDER BY id LIMIT $2";

static const char *field(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A driver's name, rating and vehicle from the given columns of a row. */
static void driver_info(PGresult *res, int r, int name, int rating, int vehicle, struct jwb_driver_info *out)
{
	out->name = field(res, r, name);
	out->has_rating = !PQgetisnull(res, r, rating);
	out->rating = out->has_rating ? strtod(PQgetvalue(res, r, rating), NULL) : 0;
	out->vehicle_type = field(res, r, vehicle);
}

int jwb_db_read(struct jwb_db *db, const int64_t *held, size_t n_held, int limit,
		struct jwb_batch *out, char *errbuf, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char *held_text = id_array(held, n_held);
	char limit_text[16];
	snprintf(limit_text, sizeof(limit_text), "%d", limit);
	if (!held_text) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	const char *values[2] = {held_text, limit_text};
	PGresult *res = exec_params(db, "reading jetwire.outbox", read_sql, 2, values, PGRES_TUPLES_OK,
			errbuf, errlen);
	free(held_text);
	if (!res)
		return -1;
	size_t n = (size_t)PQntuples(res);
	out->res = res;
	out->n = n;
	if (n == 0)
		return 0;
	out->changes = calloc(n, sizeof(*out->changes));
	if (!out->changes) {
		jwb_batch_free(out);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int r = (int)i;
		struct jwb_change *c = &out->changes[i];
		c->id = strtoll(PQgetvalue(res, r, OB_ID), NULL, 10);
		c->entity = field(res, r, OB_ENTITY);
		c->entity_id = field(res, r, OB_ENTITY_ID);
		c->version = strtoll(PQgetvalue(res, r, OB_VERSION), NULL, 10);
		c->op = field(res, r, OB_OP);
		if (!jwb_parse_pg_timestamp(PQgetvalue(res, r, OB_CREATED), &c->ts_ms))
			c->ts_ms = 0;
		c->order_number = field(res, r, OB_ORDER_NUMBER);
		c->status = field(res, r, OB_STATUS);
		c->previous_status = field(res, r, OB_PREV_STATUS);
		c->customer_id = field(res, r, OB_CUSTOMER);
		c->merchant_id = field(res, r, OB_MERCHANT);
		c->pickup_driver_id = field(res, r, OB_PICKUP);
		c->delivery_driver_id = field(res, r, OB_DELIVERY);
		c->previous_pickup_driver_id = field(res, r, OB_PREV_PICKUP);
		c->previous_delivery_driver_id = field(res, r, OB_PREV_DELIVERY);
		c->user_type = field(res, r, OB_USER_TYPE);
		c->user_id = field(res, r, OB_USER_ID);
		c->title = field(res, r, OB_TITLE);
		c->body = field(res, r, OB_BODY);
		c->data_json = field(res, r, OB_DATA);
	}
	return 0;
}

void jwb_batch_free(struct jwb_batch *b)
{
	PQclear(b->res);
	free(b->changes);
	memset(b, 0, sizeof(*b));
}

int jwb_db_delete(struct jwb_db *db, const int64_t *ids, size_t n, char *errbuf, size_t errlen)
{
	if (n == 0)
		return 0;
	char *text = id_array(ids, n);
	if (!text) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	const char *values[1] = {text};
	PGresult *res = exec_params(db, "deleting acknowledged outbox rows",
			"DELETE FROM jetwire.outbox WHERE id = ANY ($1::bigint[])", 1, values,
			PGRES_COMMAND_OK, errbuf, errlen);
	free(text);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

int jwb_db_dead_letter(struct jwb_db *db, int64_t id, const char *reason, char *errbuf, size_t errlen)
{
	char id_text[24];
	snprintf(id_text, sizeof(id_text), "%" PRId64, id);
	const char *values[2] = {id_text, reason};
	PGresult *res = exec_params(db, "moving an outbox row to jetwire.dead_letter",
			"WITH gone AS (DELETE FROM jetwire.outbox WHERE id = $1::bigint RETURNING *)"
			" INSERT INTO jetwire.dead_letter"
			" (outbox_id, entity, entity_id, version, op, source, data, reason, created_at)"
			" SELECT id, entity, entity_id, version, op, source, data, $2, created_at FROM gone",
			2, values, PGRES_COMMAND_OK, errbuf, errlen);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

int jwb_db_set_armed(struct jwb_db *db, bool armed, uint64_t *xmax, char *errbuf, size_t errlen)
{
	const char *values[1] = {armed ? "true" : "false"};
	PGresult *res = exec_params(db, "setting jetwire.wakeup",
			"UPDATE jetwire.wakeup SET armed = $1::boolean, changed_at = now() WHERE singleton",
			1, values, PGRES_COMMAND_OK, errbuf, errlen);
	if (!res)
		return -1;
	PQclear(res);
	if (!xmax)
		return 0;
	res = exec_params(db, "reading a snapshot", "SELECT pg_snapshot_xmax(pg_current_snapshot())::text",
			0, NULL, PGRES_TUPLES_OK, errbuf, errlen);
	if (!res)
		return -1;
	*xmax = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int jwb_db_passed(struct jwb_db *db, uint64_t xmax, bool *passed, char *errbuf, size_t errlen)
{
	char text[24];
	snprintf(text, sizeof(text), "%" PRIu64, xmax);
	const char *values[1] = {text};
	PGresult *res = exec_params(db, "reading a snapshot",
			"SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8",
			1, values, PGRES_TUPLES_OK, errbuf, errlen);
	if (!res)
		return -1;
	*passed = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

struct driver_row {
	const char *id;   /* in res */
	int row;
};

struct jwb_drivers {
	PGresult *res;
	struct driver_row *rows;   /* rows with a driver id, sorted by it (binary search) */
	int n_rows;
};

static int cmp_driver_row(const void *a, const void *b)
{
	return strcmp(((const struct driver_row *)a)->id, ((const struct driver_row *)b)->id);
}

int jwb_db_drivers(struct jwb_db *db, const char *const *ids, size_t n, struct jwb_drivers **out,
		char *errbuf, size_t errlen)
{
	*out = NULL;
	if (!db->driver_sql || n == 0)
		return 0;
	char *arr = text_array(ids, n);
	if (!arr) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	const char *values[1] = {arr};
	PGresult *res = exec_params(db, "looking up drivers", db->driver_sql, 1, values, PGRES_TUPLES_OK,
			errbuf, errlen);
	free(arr);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	*out = calloc(1, sizeof(**out));
	struct driver_row *index = *out ? malloc((size_t)(rows ? rows : 1) * sizeof(*index)) : NULL;
	if (!index) {
		free(*out);
		*out = NULL;
		PQclear(res);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	int k = 0;
	for (int i = 0; i < rows; i++)
		if (!PQgetisnull(res, i, 0))
			index[k++] = (struct driver_row){PQgetvalue(res, i, 0), i};
	qsort(index, (size_t)k, sizeof(*index), cmp_driver_row);
	(*out)->res = res;
	(*out)->rows = index;
	(*out)->n_rows = k;
	return 0;
}

bool jwb_drivers_lookup(void *arg, const char *driver_id, struct jwb_driver_info *out)
{
	struct jwb_drivers *d = arg;
	if (!d || !d->res)
		return false;
	int lo = 0, hi = d->n_rows;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int i = d->rows[mid].row;
		int c = strcmp(d->rows[mid].id, driver_id);
		if (c < 0) {
			lo = mid + 1;
			continue;
		}
		if (c > 0) {
			hi = mid;
			continue;
		}
		driver_info(d->res, i, 1, 2, 3, out);
		return true;
	}
	return false;
}

void jwb_drivers_free(struct jwb_drivers *d)
{
	if (!d)
		return;
	PQclear(d->res);
	free(d->rows);
	free(d);
}

void jwb_tracker_set_add(void *arg, const char *order_id, const char *driver_id, const char *subject)
{
	struct jwb_tracker_set *set = arg;
	const char *colon = strchr(subject, ':');
	if (!colon)
		return;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 32;
		char **o = realloc(set->order_ids, cap * sizeof(*o));
		if (o)
			set->order_ids = o;
		char **d = realloc(set->driver_ids, cap * sizeof(*d));
		if (d)
			set->driver_ids = d;
		char **k = realloc(set->kinds, cap * sizeof(*k));
		if (k)
			set->kinds = k;
		char **s = realloc(set->subject_ids, cap * sizeof(*s));
		if (s)
			set->subject_ids = s;
		if (!o || !d || !k || !s)
			return;
		set->cap = cap;
	}
	set->order_ids[set->n] = strdup(order_id);
	set->driver_ids[set->n] = strdup(driver_id);
	set->kinds[set->n] = strndup(subject, (size_t)(colon - subject));
	set->subject_ids[set->n] = strdup(colon + 1);
	set->n++;
}

int jwb_db_trackers_kept(struct jwb_db *db, struct jwb_tracker_set *set, char *const *terminal,
		size_t n_terminal, char *errbuf, size_t errlen)
{
	PQclear(set->kept);
	set->kept = NULL;
	if (!db->tracker_sql || set->n == 0)
		return 0;
	char *arrays[5] = {
		text_array((const char *const *)set->order_ids, set->n),
		text_array((const char *const *)set->driver_ids, set->n),
		text_array((const char *const *)set->kinds, set->n),
		text_array((const char *const *)set->subject_ids, set->n),
		text_array((const char *const *)terminal, n_terminal),
	};
	int rc = -1;
	if (arrays[0] && arrays[1] && arrays[2] && arrays[3] && arrays[4]) {
		const char *values[5] = {arrays[0], arrays[1], arrays[2], arrays[3], arrays[4]};
		set->kept = exec_params(db, "checking which tracker relations other orders keep", db->tracker_sql,
				5, values, PGRES_TUPLES_OK, errbuf, errlen);
		rc = set->kept ? 0 : -1;
	} else {
		snprintf(errbuf, errlen, "out of memory");
	}
	for (int i = 0; i < 5; i++)
		free(arrays[i]);
	return rc;
}

bool jwb_tracker_set_kept(void *arg, const char *order_id, const char *driver_id, const char *subject)
{
	struct jwb_tracker_set *set = arg;
	if (!set || !set->kept)
		return false;
	int n = PQntuples(set->kept);
	for (int i = 0; i < n; i++) {
		if (strcmp(PQgetvalue(set->kept, i, 0), order_id) == 0 &&
		    strcmp(PQgetvalue(set->kept, i, 1), driver_id) == 0 &&
		    strcmp(PQgetvalue(set->kept, i, 2), subject) == 0)
			return true;
	}
	return false;
}

void jwb_tracker_set_clear(struct jwb_tracker_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->order_ids[i]);
		free(set->driver_ids[i]);
		free(set->kinds[i]);
		free(set->subject_ids[i]);
	}
	free(set->order_ids);
	free(set->driver_ids);
	free(set->kinds);
	free(set->subject_ids);
	PQclear(set->kept);
	memset(set, 0, sizeof(*set));
}

/* Growable text for array literals. */
struct buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void buf_add(struct buf *b, const char *text)
{
	size_t n = strlen(text);
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->s, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->s = grown;
		b->cap = cap;
	}
	memcpy(b->s + b->len, text, n + 1);
	b->len += n;
}

static void buf_number(struct buf *b, bool present, double v, bool first)
{
	char tmp[40];
	snprintf(tmp, sizeof(tmp), "%s%s", first ? "" : ",", "NULL");
	if (present)
		snprintf(tmp, sizeof(tmp), "%s%.17g", first ? "" : ",", v);
	buf_add(b, tmp);
}

static void buf_quoted(struct buf *b, const char *text, bool first)
{
	if (!first)
		buf_add(b, ",");
	if (!text) {
		buf_add(b, "NULL");
		return;
	}
	buf_add(b, "\"");
	for (const char *c = text; *c; c++) {
		char one[3] = {0};
		if (*c == '"' || *c == '\\') {
			one[0] = '\\';
			one[1] = *c;
		} else {
			one[0] = *c;
		}
		buf_add(b, one);
	}
	buf_add(b, "\"");
}

/* The batch's value wins when it is at least as recent as the stored one,
 * by the driver's own clock (a late retained copy never wins). */
#define NEWER "(EXCLUDED.ts IS NOT NULL AND (p.ts IS NULL OR EXCLUDED.ts >= p.ts))"
#define PNEWER "(EXCLUDED.presence_at IS NOT NULL AND (p.presence_at IS NULL OR EXCLUDED.presence_at >= p.presence_at))"
static const char store_positions_sql[] =
	"INSERT INTO jetwire.driver_position AS p"
	" (driver_id, lat, lng, heading, speed, accuracy, order_id, ts, presence, presence_at)"
	" SELECT d, la, ln, h, sp, a, o, to_timestamp(t / 1000.0), pr, to_timestamp(pt / 1000.0)"
	" FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],"
	"             $7::text[], $8::bigint[], $9::text[], $10::bigint[]) AS u(d, la, ln, h, sp, a, o, t, pr, pt)"
	" ON CONFLICT (driver_id) DO UPDATE SET"
	"  lat = CASE WHEN " NEWER " THEN EXCLUDED.lat ELSE p.lat END,"
	"  lng = CASE WHEN " NEWER " THEN EXCLUDED.lng ELSE p.lng END,"
	"  heading = CASE WHEN " NEWER " THEN EXCLUDED.heading ELSE p.heading END,"
	"  speed = CASE WHEN " NEWER " THEN EXCLUDED.speed ELSE p.speed END,"
	"  accuracy = CASE WHEN " NEWER " THEN EXCLUDED.accuracy ELSE p.accuracy END,"
	"  order_id = CASE WHEN " NEWER " THEN EXCLUDED.order_id ELSE p.order_id END,"
	"  ts = CASE WHEN " NEWER " THEN EXCLUDED.ts ELSE p.ts END,"
	"  presence = CASE WHEN " PNEWER " THEN EXCLUDED.presence ELSE p.presence END,"
	"  presence_at = CASE WHEN " PNEWER " THEN EXCLUDED.presence_at ELSE p.presence_at END,"
	"  received_at = now()";

int jwb_db_store_positions(struct jwb_db *db, const struct jwb_position *pos, size_t n, bool history,
		char *errbuf, size_t errlen)
{
	if (n == 0)
		return 0;
	struct buf a[10] = {0};
	for (int k = 0; k < 10; k++)
		buf_add(&a[k], "{");
	for (size_t i = 0; i < n; i++) {
		const struct jwb_position *q = &pos[i];
		bool first = i == 0;
		buf_quoted(&a[0], q->driver_id, first);
		buf_number(&a[1], q->has_location, q->lat, first);
		buf_number(&a[2], q->has_location, q->lng, first);
		buf_number(&a[3], q->has_location && q->has_heading, q->heading, first);
		buf_number(&a[4], q->has_location && q->has_speed, q->speed, first);
		buf_number(&a[5], q->has_location && q->has_accuracy, q->accuracy, first);
		buf_quoted(&a[6], q->has_location && q->order_id[0] ? q->order_id : NULL, first);
		buf_number(&a[7], q->has_location, (double)q->ts_ms, first);
		buf_quoted(&a[8], q->has_presence ? (q->online ? "online" : "offline") : NULL, first);
		buf_number(&a[9], q->has_presence, (double)q->presence_ts_ms, first);
	}
	bool failed = false;
	for (int k = 0; k < 10; k++) {
		buf_add(&a[k], "}");
		failed = failed || a[k].failed;
	}
	int rc = -1;
	if (failed) {
		snprintf(errbuf, errlen, "out of memory");
	} else {
		const char *values[10];
		for (int k = 0; k < 10; k++)
			values[k] = a[k].s;
		/* With history: one statement too (a data-modifying CTE), so the
		 * history row and the latest position commit together. */
		static const char history_cte[] =
			"WITH history AS (INSERT INTO jetwire.driver_position_history"
			" (driver_id, ts, lat, lng, heading, speed, accuracy, order_id)"
			" SELECT d, to_timestamp(t / 1000.0), la, ln, h, sp, a, o"
			" FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[],"
			"             $6::float8[], $7::text[], $8::bigint[]) AS u(d, la, ln, h, sp, a, o, t)"
			" WHERE t IS NOT NULL ON CONFLICT DO NOTHING) ";
		char sql[sizeof(history_cte) + sizeof(store_positions_sql)];
		snprintf(sql, sizeof(sql), "%s%s", history ? history_cte : "", store_positions_sql);
		PGresult *res = exec_params(db, "storing driver positions", sql, 10, values,
				PGRES_COMMAND_OK, errbuf, errlen);
		rc = res ? 0 : -1;
		PQclear(res);
	}
	for (int k = 0; k < 10; k++)
		free(a[k].s);
	return rc;
}

int jwb_db_trim_history(struct jwb_db *db, int retention_s, int64_t *deleted, char *errbuf, size_t errlen)
{
	char text[16];
	snprintf(text, sizeof(text), "%d", retention_s);
	const char *values[1] = {text};
	PGresult *res = exec_params(db, "trimming jetwire.driver_position_history",
			"DELETE FROM jetwire.driver_position_history"
			" WHERE ts < now() - make_interval(secs => $1::float8)",
			1, values, PGRES_COMMAND_OK, errbuf, errlen);
	if (!res)
		return -1;
	*deleted = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int jwb_db_offers(struct jwb_db *db, const char *const *merchant_ids, size_t n_merchants, double radius_km,
		int max_drivers, int max_position_age, char *const *availability, size_t n_availability,
		PGresult **res, char *errbuf, size_t errlen)
{
	*res = NULL;
	if (!db->offer_sql)
		return 0;
	char radius[32], max[16], age[16];
	snprintf(radius, sizeof(radius), "%.3f", radius_km);
	snprintf(max, sizeof(max), "%d", max_drivers);
	snprintf(age, sizeof(age), "%d", max_position_age);
	char *merchants = text_array(merchant_ids, n_merchants);
	char *avail = text_array((const char *const *)availability, n_availability);
	if (!merchants || !avail) {
		free(merchants);
		free(avail);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	const char *values[5] = {merchants, radius, max, age, avail};
	*res = exec_params(db, "finding drivers to offer orders to", db->offer_sql, 5, values,
			PGRES_TUPLES_OK, errbuf, errlen);
	free(merchants);
	free(avail);
	return *res ? 0 : -1;
}

int jwb_db_backlog(struct jwb_db *db, int64_t *rows, double *oldest_age_s, char *errbuf, size_t errlen)
{
	PGresult *res = exec_params(db, "measuring the backlog",
			"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0)"
			" FROM jetwire.outbox", 0, NULL, PGRES_TUPLES_OK, errbuf, errlen);
	if (!res)
		return -1;
	*rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*oldest_age_s = strtod(PQgetvalue(res, 0, 1), NULL);
	PQclear(res);
	return 0;
}

int jwb_db_resync_open(struct jwb_db *db, char *const *terminal, size_t n_terminal,
		int terminal_expiry, bool *empty, char *errbuf, size_t errlen)
{
	*empty = false;
	if (load_driver_sql(db, errbuf, errlen) != 0)
		return -1;
	PGresult *res = exec_params(db, "seeding order versions (jetwire.seed_versions())",
			"SELECT jetwire.seed_versions()", 0, NULL, PGRES_TUPLES_OK, errbuf, errlen);
	if (!res)
		return -1;
	PQclear(res);
	res = exec_params(db, "reading jetwire.resync_sql()", "SELECT jetwire.resync_sql()", 0, NULL,
			PGRES_TUPLES_OK, errbuf, errlen);
	if (!res)
		return -1;
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		*empty = true;
		return 0;
	}
	const char *prefix = "DECLARE jetwire_resync NO SCROLL CURSOR FOR ";
	size_t len = strlen(prefix) + (size_t)PQgetlength(res, 0, 0) + 1;
	char *sql = malloc(len);
	if (!sql) {
		PQclear(res);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	snprintf(sql, len, "%s%s", prefix, PQgetvalue(res, 0, 0));
	PQclear(res);
	if (exec_command(db, "starting the resync snapshot",
			"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errbuf, errlen) != 0) {
		free(sql);
		return -1;
	}
	db->in_resync = true;
	char *terminal_text = text_array((const char *const *)terminal, n_terminal);
	char expiry_text[16];
	snprintf(expiry_text, sizeof(expiry_text), "%d", terminal_expiry);
	const char *values[2] = {terminal_text, expiry_text};
	res = terminal_text ? exec_params(db, "opening the resync cursor", sql, 2, values, PGRES_COMMAND_OK,
			errbuf, errlen) : NULL;
	free(terminal_text);
	free(sql);
	if (!res) {
		char ignored[64];
		jwb_db_resync_close(db, ignored, sizeof(ignored));
		return -1;
	}
	PQclear(res);
	return 0;
}

enum {
	RS_ID, RS_ORDER_NUMBER, RS_STATUS, RS_CUSTOMER, RS_MERCHANT, RS_PICKUP, RS_DELIVERY,
	RS_VERSION, RS_CHANGED, RS_PREV_STATUS, RS_PENDING,
	RS_P_NAME, RS_P_RATING, RS_P_VEHICLE, RS_D_NAME, RS_D_RATING, RS_D_VEHICLE,
	RS_PENDING_MIN, RS_PENDING_STATUS, RS_PENDING_DRIVER, RS_COLUMNS
};

int jwb_db_resync_fetch(struct jwb_db *db, int limit, struct jwb_state_batch *out,
		char *errbuf, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char sql[64];
	snprintf(sql, sizeof(sql), "FETCH %d FROM jetwire_resync", limit);
	PGresult *res = exec_params(db, "reading the resync cursor", sql, 0, NULL, PGRES_TUPLES_OK,
			errbuf, errlen);
	if (!res)
		return -1;
	if (PQnfields(res) != RS_COLUMNS) {
		/* The schema's resync_sql() is not the one this bridge was built
		 * with: reading on would index columns that are not there. */
		snprintf(errbuf, errlen, "reading the resync cursor: jetwire.resync_sql() returns %d columns, "
				"this bridge expects %d (schema and bridge versions differ: apply the migrations "
				"of this bridge's version)", PQnfields(res), RS_COLUMNS);
		PQclear(res);
		return -1;
	}
	size_t n = (size_t)PQntuples(res);
	out->res = res;
	out->n = n;
	if (n == 0)
		return 0;
	out->orders = calloc(n, sizeof(*out->orders));
	if (!out->orders) {
		jwb_state_batch_free(out);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int r = (int)i;
		struct jwb_order_state *s = &out->orders[i];
		s->id = field(res, r, RS_ID);
		s->order_number = field(res, r, RS_ORDER_NUMBER);
		s->status = field(res, r, RS_STATUS);
		s->customer_id = field(res, r, RS_CUSTOMER);
		s->merchant_id = field(res, r, RS_MERCHANT);
		s->pickup_driver_id = field(res, r, RS_PICKUP);
		s->delivery_driver_id = field(res, r, RS_DELIVERY);
		s->version = PQgetisnull(res, r, RS_VERSION) ? 0 : strtoll(PQgetvalue(res, r, RS_VERSION), NULL, 10);
		if (PQgetisnull(res, r, RS_CHANGED) ||
		    !jwb_parse_pg_timestamp(PQgetvalue(res, r, RS_CHANGED), &s->changed_ms))
			s->changed_ms = 0;
		s->previous_status = field(res, r, RS_PREV_STATUS);
		s->pending = PQgetvalue(res, r, RS_PENDING)[0] == 't';
		s->pending_min_version = PQgetisnull(res, r, RS_PENDING_MIN) ? 0 :
				strtoll(PQgetvalue(res, r, RS_PENDING_MIN), NULL, 10);
		s->pending_status_change = PQgetvalue(res, r, RS_PENDING_STATUS)[0] == 't';
		s->pending_driver_change = PQgetvalue(res, r, RS_PENDING_DRIVER)[0] == 't';
		driver_info(res, r, RS_P_NAME, RS_P_RATING, RS_P_VEHICLE, &s->pickup);
		driver_info(res, r, RS_D_NAME, RS_D_RATING, RS_D_VEHICLE, &s->delivery);
	}
	return 0;
}

void jwb_state_batch_free(struct jwb_state_batch *b)
{
	PQclear(b->res);
	free(b->orders);
	memset(b, 0, sizeof(*b));
}

int jwb_db_resync_close(struct jwb_db *db, char *errbuf, size_t errlen)
{
	if (!db->in_resync)
		return 0;
	db->in_resync = false;
	/* COMMIT of a failed transaction rolls back; either ends it. */
	PGresult *res = PQexec(db->conn, "COMMIT");
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		describe(errbuf, errlen, "ending the resync snapshot", db->conn, res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}
