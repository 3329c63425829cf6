/* lib/jw_parse.c: whole-string, range-checked numbers for tools' options. */
#include <check.h>
#include <math.h>

#include "jw_parse.h"
#include "unit_support.h"

START_TEST(accepts_numbers_within_the_range)
{
	double d = -1;
	long l = -1;
	ck_assert(jw_parse_double("2.5", 0, 10, &d));
	ck_assert_double_eq(d, 2.5);
	ck_assert(jw_parse_double("1e3", 0, 1000, &d));
	ck_assert_double_eq(d, 1000);
	ck_assert(jw_parse_double("0", 0, 1, &d));
	ck_assert(jw_parse_long("42", 1, 42, &l));
	ck_assert_int_eq(l, 42);
	ck_assert(jw_parse_long("-7", -10, 0, &l));
	ck_assert_int_eq(l, -7);
}
END_TEST

START_TEST(refuses_junk_and_out_of_range_and_leaves_the_value)
{
	double d = 9;
	long l = 9;
	const char *bad_d[] = {"", "x", "1x", "1.5 ", "nan", "inf", "1e999", "11", "-0.1"};
	for(size_t i = 0; i < sizeof(bad_d) / sizeof(bad_d[0]); i++){
		ck_assert_msg(!jw_parse_double(bad_d[i], 0, 10, &d), "'%s' accepted", bad_d[i]);
	}
	ck_assert_double_eq(d, 9);
	const char *bad_l[] = {"", "1.0", "0x10", "12a", "99999999999999999999999", "101", "-1"};
	for(size_t i = 0; i < sizeof(bad_l) / sizeof(bad_l[0]); i++){
		ck_assert_msg(!jw_parse_long(bad_l[i], 0, 100, &l), "'%s' accepted", bad_l[i]);
	}
	ck_assert_int_eq(l, 9);
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, accepts_numbers_within_the_range);
	tcase_add_test(tc, refuses_junk_and_out_of_range_and_leaves_the_value);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(parse_suite());
}
