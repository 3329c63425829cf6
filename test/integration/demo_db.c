#include "demo_db.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "jw_file.h"
#include "migrate.h"

void jw_exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s\n-> %s", sql, PQerrorMessage(c));
	PQclear(r);
}

void jw_exec_file(PGconn *c, const char *rel)
{
	const char *src = getenv("JW_SOURCE_DIR");
	ck_assert_msg(src != NULL, "JW_SOURCE_DIR is not set (run through ctest)");
	char path[1024], err[512];
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	char *sql = NULL;
	size_t len;
	ck_assert_msg(jw_read_file(path, 1u << 20, &sql, &len, err, sizeof(err)) == 0, "%s", err);
	jw_exec_ok(c, sql);
	free(sql);
}

PGconn *jw_demo_db(const struct jw_pg *pg, const char *name, char *conninfo, size_t len)
{
	char err[2048];
	ck_assert_msg(jw_pg_create_db(pg, name, NULL, err, sizeof(err)) == 0, "%s", err);
	jw_pg_conninfo(pg, name, NULL, conninfo, len);
	PGconn *c = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, NULL, NULL);
	ck_assert_msg(jw_migrate(c, err, sizeof(err), NULL) == 0, "%s", err);
	jw_exec_file(c, "schemas/demo/tables.sql");
	jw_exec_file(c, "schemas/demo/capture.sql");
	return c;
}

void jw_demo_stack_up(struct jw_demo_stack *s, const struct jw_pg *pg, const char *dbname, const char *seed_sql,
		const char *plugin_opts, const char *bridge_conf)
{
	char ci[600], err[2048];
	s->db = jw_demo_db(pg, dbname, ci, sizeof(ci));
	if(seed_sql) jw_exec_ok(s->db, seed_sql);
	jw_broker_start(&s->broker, &(struct jw_broker_opts){.plugin_opts = plugin_opts});
	struct jw_bridge_opts o = {.database = ci, .mqtt_port = s->broker.port,
		.secret_path = s->broker.secret_path, .extra_conf = bridge_conf};
	ck_assert_msg(jw_bridge_start(&s->bridge, &o, err, sizeof(err)) == 0, "%s", err);
}

void jw_demo_stack_down(struct jw_demo_stack *s)
{
	char err[256];
	int code = -1;
	ck_assert_msg(jw_bridge_stop(&s->bridge, &code, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(code == 0, "bridge exit %d, log %s", code, s->bridge.log_path);
	jw_bridge_cleanup(&s->bridge);
	jw_client_destroy_all();
	jw_broker_stop(&s->broker);
	PQfinish(s->db);
}
