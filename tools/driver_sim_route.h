/*
 * driver_sim_route — the geometry of jetwire-driver-sim: a closed loop of
 * waypoints around a center point, and a position moving along it.
 *
 * Positions live in a local plane (metres east/north of the center,
 * equirectangular projection: exact enough within a city).  Every waypoint
 * lies within the radius, and so does every point of the loop (a segment
 * between two points of a disc stays in the disc).
 */
#ifndef DRIVER_SIM_ROUTE_H
#define DRIVER_SIM_ROUTE_H

#include <stdint.h>

#define DS_MAX_WAYPOINTS 12

struct ds_route {
	int n;                               /* waypoints, >= 3 */
	double x[DS_MAX_WAYPOINTS];          /* metres east of the center */
	double y[DS_MAX_WAYPOINTS];          /* metres north of the center */
	int seg;                             /* current segment: waypoint seg -> seg+1 (mod n) */
	double along;                        /* metres travelled on the current segment */
};

/* A tiny deterministic PRNG (xorshift64*), one per driver or per program. */
uint64_t ds_rand_next(uint64_t *state);
/* Uniform in [0, 1). */
double ds_rand_unit(uint64_t *state);

/* A random loop of 4..DS_MAX_WAYPOINTS waypoints around the center, each at
 * 30..100 % of radius_m, at increasing angles; starts at a random point. */
void ds_route_init(struct ds_route *r, double radius_m, uint64_t *rng);

/* Move `dist_m` metres along the loop. */
void ds_route_advance(struct ds_route *r, double dist_m);

/* Current position (metres) and heading (degrees clockwise from north, [0, 360)). */
void ds_route_position(const struct ds_route *r, double *x, double *y, double *heading_deg);

/* Local plane <-> WGS84 around (lat0, lng0). */
void ds_plane_to_geo(double lat0, double lng0, double x, double y, double *lat, double *lng);
/* Great-circle distance in metres (haversine). */
double ds_distance_m(double lat1, double lng1, double lat2, double lng2);

#endif
