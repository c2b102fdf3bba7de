/*
 * src/sys/linux/nolibc/engine_drivers.c - the drivers the libc-free engine
 * (vllsi_engine_nolibc) does not have. The io_uring driver is built on
 * liburing, which needs libc, and the simulation driver is a test tool; here
 * both answer their setup the way a kernel without them would, so AUTO
 * falls back to epoll and says why, and an explicit request fails cleanly.
 */
#include <errno.h>
#include <stdio.h>

#include "driver.h"

static int no_uring(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    (void)e;
    (void)cfg;
    snprintf(reason, len, "io_uring: not in the libc-free build (liburing needs libc)");
    return -ENOSYS;
}

static int no_sim(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    (void)e;
    (void)cfg;
    snprintf(reason, len, "sim: not in the libc-free build");
    return -EOPNOTSUPP;
}

const struct vl_driver vl__driver_uring = {
    .name = "io_uring",
    .kind = VL_DRIVER_URING,
    .init = no_uring,
};

const struct vl_driver vl__driver_sim = {
    .name = "sim",
    .kind = VL_DRIVER_SIM,
    .init = no_sim,
};
