/*
 * lnc2client: a small NETCONF client built on libnetconf2 (Debian
 * libnetconf2-dev), for wirebeat's interop tests. It connects over SSH
 * with a password, lets libnetconf2 build its YANG context from the
 * server's YANG library and <get-schema> (the search path is an empty
 * directory the caller gives, so every module text comes from the
 * server), then runs the commands given on the command line:
 *
 *   schemas          print "module NAME@REVISION implemented|imported"
 *                    for every module of the session's context
 *   get-config       print the running configuration (XML)
 *   get FILTER       print <get> output for a subtree filter (XML)
 *   edit XML         edit-config of running with XML as <config> content
 *
 * usage: lnc2client HOST PORT USER SEARCHDIR COMMAND [ARG] ...
 * The password is read from $LNC2_PASSWORD. Exit status 0 when every
 * command succeeded; libnetconf2's messages go to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>
#include <nc_client.h>

static char *password(const char *user, const char *host, void *priv)
{
	(void)user; (void)host; (void)priv;
	const char *pw = getenv("LNC2_PASSWORD");
	return strdup(pw ? pw : "");
}

/* The test's server has a fresh host key each run. */
static int accept_hostkey(const char *host, ssh_session s, void *priv)
{
	(void)host; (void)s; (void)priv;
	return 0;
}

static void log_clb(const struct nc_session *s, NC_VERB_LEVEL level, const char *msg)
{
	(void)s;
	fprintf(stderr, "libnetconf2[%d]: %s\n", level, msg);
}

/* run sends rpc and prints the reply data; 0 on <ok/> or data. */
static int run(struct nc_session *s, struct nc_rpc *rpc, const char *what)
{
	uint64_t id;
	struct lyd_node *envp = NULL, *op = NULL;
	int rc = 1;

	if (nc_send_rpc(s, rpc, 10000, &id) != NC_MSG_RPC) {
		fprintf(stderr, "%s: send failed\n", what);
		goto out;
	}
	NC_MSG_TYPE t;
	while ((t = nc_recv_reply(s, rpc, id, 20000, &envp, &op)) == NC_MSG_NOTIF)
		;
	if (t != NC_MSG_REPLY) {
		fprintf(stderr, "%s: no reply (%d)\n", what, t);
		goto out;
	}
	char *text = NULL;
	if (op) {
		lyd_print_mem(&text, op, LYD_XML, LYD_PRINT_WITHSIBLINGS);
		printf("%s reply:\n%s\n", what, text ? text : "");
		free(text);
		rc = 0;
	} else if (envp) {
		lyd_print_mem(&text, envp, LYD_XML, LYD_PRINT_WITHSIBLINGS);
		/* <ok/> or <rpc-error> in the envelope */
		rc = (text && strstr(text, "rpc-error")) ? 1 : 0;
		printf("%s %s:\n%s\n", what, rc ? "error" : "ok", text ? text : "");
		free(text);
	}
out:
	lyd_free_all(envp);
	lyd_free_all(op);
	nc_rpc_free(rpc);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s HOST PORT USER SEARCHDIR COMMAND [ARG] ...\n", argv[0]);
		return 2;
	}
	nc_client_init();
	nc_verbosity(getenv("LNC2_VERBOSE") ? NC_VERB_VERBOSE : NC_VERB_WARNING);
	nc_set_print_clb_session(log_clb);
	nc_client_set_schema_searchpath(argv[4]);
	nc_client_ssh_set_username(argv[3]);
	nc_client_ssh_set_auth_pref(NC_SSH_AUTH_PUBLICKEY, -1);
	nc_client_ssh_set_auth_pref(NC_SSH_AUTH_INTERACTIVE, -1);
	nc_client_ssh_set_auth_pref(NC_SSH_AUTH_PASSWORD, 10);
	nc_client_ssh_set_auth_password_clb(password, NULL);
	nc_client_ssh_set_auth_hostkey_check_clb(accept_hostkey, NULL);

	struct nc_session *s = nc_connect_ssh(argv[1], (uint16_t)atoi(argv[2]), NULL);
	if (!s) {
		fprintf(stderr, "connect failed\n");
		nc_client_destroy();
		return 1;
	}
	printf("connected, session %u\n", nc_session_get_id(s));
	int rc = 0;
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "schemas")) {
			uint32_t idx = 0;
			const struct lys_module *m;
			while ((m = ly_ctx_get_module_iter(nc_session_get_ctx(s), &idx)))
				printf("module %s@%s %s\n", m->name, m->revision ? m->revision : "",
				       m->implemented ? "implemented" : "imported");
		} else if (!strcmp(argv[i], "get-config")) {
			rc |= run(s, nc_rpc_getconfig(NC_DATASTORE_RUNNING, NULL, NC_WD_UNKNOWN, NC_PARAMTYPE_CONST), "get-config");
		} else if (!strcmp(argv[i], "get") && i + 1 < argc) {
			rc |= run(s, nc_rpc_get(argv[++i], NC_WD_UNKNOWN, NC_PARAMTYPE_CONST), "get");
		} else if (!strcmp(argv[i], "edit") && i + 1 < argc) {
			rc |= run(s, nc_rpc_edit(NC_DATASTORE_RUNNING, NC_RPC_EDIT_DFLTOP_MERGE, NC_RPC_EDIT_TESTOPT_TESTSET,
			                         NC_RPC_EDIT_ERROPT_ROLLBACK, argv[++i], NC_PARAMTYPE_CONST), "edit-config");
		} else {
			fprintf(stderr, "unknown command %s\n", argv[i]);
			rc = 2;
		}
	}
	nc_session_free(s, NULL);
	nc_client_destroy();
	return rc;
}
