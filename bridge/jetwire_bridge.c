/*
 * jetwire-bridge — PostgreSQL change capture -> retained MQTT state.
 *
 *   jetwire-bridge [-c FILE] [--check-config] [-v]
 *
 * Configuration: FILE plus JETWIRE_BRIDGE_* environment overrides
 * (docs/bridge-config.md).  Exit status: 0 after SIGTERM/SIGINT, 1 on a
 * fatal runtime error, 2 on bad usage or configuration.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "config.h"
#include "log.h"
#include "service_token.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: jetwire-bridge [-c FILE] [--check-config] [-v]\n"
		"  -c, --config FILE   configuration file (options: docs/bridge-config.md);\n"
		"                      JETWIRE_BRIDGE_<OPTION> environment variables override it\n"
		"  --check-config      validate the configuration (and the signing key), print\n"
		"                      \"configuration OK\" and exit 0, or the error and exit 2\n"
		"  -v, --verbose       debug logging\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool check_only = false;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check_only = true;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			jwb_log_set_level(JWB_LOG_DEBUG);
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "jetwire-bridge: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	struct jwb_config cfg;
	char err[1024];
	if (jwb_config_load(&cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "jetwire-bridge: %s\n", err);
		return 2;
	}
	if (check_only) {
		struct jwb_token_source *ts = jwb_token_source_new(&cfg, err, sizeof(err));
		if (!ts) {
			fprintf(stderr, "jetwire-bridge: %s\n", err);
			jwb_config_free(&cfg);
			return 2;
		}
		jwb_token_source_free(ts);
		jwb_config_free(&cfg);
		printf("configuration OK\n");
		return 0;
	}

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = jwb_bridge_run(&cfg, &stop);
	jwb_config_free(&cfg);
	return rc;
}
