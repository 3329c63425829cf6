/* The smallest end-to-end scenario: a customer sees its own order and
 * nothing else.  Kept as the harness's own check. */
#include <check.h>
#include <stdlib.h>

#include "harness.h"

START_TEST(customer_receives_own_order_status_and_not_others)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *svc_tok = jw_token(&b, "bridge", "service", 600);
	char *cust_tok = jw_token(&b, "42", "customer", 600);

	struct jw_client *svc = jw_client_new("service-bridge", 5, true);
	ck_assert_int_eq(jw_client_connect(svc, b.port, svc_tok), 0);
	ck_assert_int_eq(jw_client_publish(svc, "$CONTROL/jetwire/v1",
			"{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:42\"}]}]}", 1, false), 0);
	char *resp = jw_client_wait_message(svc, "$CONTROL/jetwire/v1/response", 5000);
	ck_assert_ptr_nonnull(resp);
	ck_assert_ptr_nonnull(strstr(resp, "\"added\":1"));
	free(resp);
	ck_assert_int_eq(jw_client_publish(svc, "order/1/status", "{\"status\":\"PENDING\"}", 1, true), 0);
	ck_assert_int_eq(jw_client_publish(svc, "order/2/status", "{\"status\":\"PENDING\"}", 1, true), 0);

	struct jw_client *cust = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect(cust, b.port, cust_tok), 0);
	ck_assert_int_eq(jw_client_subscribe(cust, "order/+/status", 1), 1);
	char *got = jw_client_wait_message(cust, "order/1/status", 5000);
	ck_assert_ptr_nonnull(got);
	free(got);
	ck_assert_int_eq(jw_client_count_messages(cust, "order/2/status", 500), 0);

	jw_client_destroy(cust);
	jw_client_destroy(svc);
	free(svc_tok);
	free(cust_tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("smoke");
	TCase *tc = tcase_create("smoke");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, customer_receives_own_order_status_and_not_others);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
