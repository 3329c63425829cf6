/* driver_sim_route — see driver_sim_route.h. */
#include "driver_sim_route.h"

#include <math.h>

#define DS_PI 3.14159265358979323846
#define EARTH_RADIUS_M 6371008.8
#define M_PER_DEG_LAT 111320.0

uint64_t ds_rand_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

double ds_rand_unit(uint64_t *state)
{
	return (double)(ds_rand_next(state) >> 11) / 9007199254740992.0;   /* 2^53 */
}

static double seg_len(const struct ds_route *r, int i)
{
	int j = (i + 1) % r->n;
	return hypot(r->x[j] - r->x[i], r->y[j] - r->y[i]);
}

void ds_route_init(struct ds_route *r, double radius_m, uint64_t *rng)
{
	r->n = 4 + (int)(ds_rand_unit(rng) * (DS_MAX_WAYPOINTS - 3));
	if(r->n > DS_MAX_WAYPOINTS) r->n = DS_MAX_WAYPOINTS;
	double start = ds_rand_unit(rng) * 2 * DS_PI;
	double step = 2 * DS_PI / r->n;
	for(int i = 0; i < r->n; i++){
		/* increasing angles with some jitter: a simple (star-shaped) loop */
		double a = start + step * (i + 0.8 * (ds_rand_unit(rng) - 0.5));
		double d = radius_m * (0.3 + 0.7 * ds_rand_unit(rng));
		r->x[i] = d * sin(a);
		r->y[i] = d * cos(a);
	}
	r->seg = (int)(ds_rand_unit(rng) * r->n) % r->n;
	r->along = ds_rand_unit(rng) * seg_len(r, r->seg);
}

void ds_route_advance(struct ds_route *r, double dist_m)
{
	for(int guard = 0; dist_m > 0 && guard < 4 * DS_MAX_WAYPOINTS; guard++){
		double left = seg_len(r, r->seg) - r->along;
		if(dist_m < left){
			r->along += dist_m;
			return;
		}
		dist_m -= left;
		r->seg = (r->seg + 1) % r->n;
		r->along = 0;
	}
}

void ds_route_position(const struct ds_route *r, double *x, double *y, double *heading_deg)
{
	int i = r->seg, j = (r->seg + 1) % r->n;
	double dx = r->x[j] - r->x[i], dy = r->y[j] - r->y[i];
	double len = hypot(dx, dy);
	double f = len > 0 ? r->along / len : 0;
	if(f > 1) f = 1;
	*x = r->x[i] + f * dx;
	*y = r->y[i] + f * dy;
	double h = atan2(dx, dy) * 180.0 / DS_PI;   /* clockwise from north */
	if(h < 0) h += 360.0;
	if(h >= 360.0) h = 0;
	*heading_deg = h;
}

void ds_plane_to_geo(double lat0, double lng0, double x, double y, double *lat, double *lng)
{
	*lat = lat0 + y / M_PER_DEG_LAT;
	double c = cos(lat0 * DS_PI / 180.0);
	if(c < 1e-6) c = 1e-6;
	*lng = lng0 + x / (M_PER_DEG_LAT * c);
	if(*lat > 90) *lat = 90;
	if(*lat < -90) *lat = -90;
	if(*lng > 180) *lng -= 360;
	if(*lng < -180) *lng += 360;
}

double ds_distance_m(double lat1, double lng1, double lat2, double lng2)
{
	double p1 = lat1 * DS_PI / 180, p2 = lat2 * DS_PI / 180;
	double dp = p2 - p1, dl = (lng2 - lng1) * DS_PI / 180;
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
	return 2 * EARTH_RADIUS_M * asin(sqrt(a < 1 ? a : 1));
}
