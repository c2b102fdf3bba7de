/*
 * src/engine/fault.c - the seeded fault injector (see fault.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

void vl__fault_init(struct vl__fault *f, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    vl__fault_reseed(f, seed);
}

void vl__fault_reseed(struct vl__fault *f, uint64_t seed)
{
    f->seed = seed;
    f->state = seed;
    memset(f->hits, 0, sizeof(f->hits));
}

/* splitmix64: tiny state, every seed (0 included) gives a full-period
 * stream, and the output passes BigCrush, which is all a test needs. */
uint64_t vl__fault_next(struct vl__fault *f)
{
    uint64_t z = (f->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t vl__fault_below(struct vl__fault *f, uint64_t n)
{
    /* The modulo bias is below 2^-40 for the small n used here. */
    return n == 0 ? 0 : vl__fault_next(f) % n;
}

bool vl__fault_hit(struct vl__fault *f, enum vl__fault_kind kind)
{
    uint32_t ppm = f->ppm[kind];
    bool hit;
    if (ppm == 0)
        return false;
    hit = ppm >= VL__FAULT_PPM || vl__fault_below(f, VL__FAULT_PPM) < ppm;
    if (hit)
        f->hits[kind]++;
    return hit;
}

size_t vl__fault_shorten(struct vl__fault *f, size_t len)
{
    if (len <= 1 || !vl__fault_hit(f, VL__FAULT_SHORT))
        return len;
    return 1 + (size_t)vl__fault_below(f, len - 1);
}

static const char *const fault_keys[VL__FAULT_KIND_COUNT] = {
    [VL__FAULT_SHORT] = "short", [VL__FAULT_EAGAIN] = "eagain", [VL__FAULT_EINTR] = "eintr",
    [VL__FAULT_EBUSY] = "ebusy", [VL__FAULT_ENOMEM] = "enomem", [VL__FAULT_SQ_FULL] = "sqfull",
    [VL__FAULT_RESET] = "reset", [VL__FAULT_DELAY] = "delay",
};
_Static_assert(sizeof(fault_keys) / sizeof(fault_keys[0]) == VL__FAULT_KIND_COUNT,
               "one key per fault kind");

/* One "key=value" item of a spec; the value ends at ',' or the end. */
static int parse_item(struct vl__fault *f, const char *key, size_t klen, const char *val,
                      const char **end)
{
    char *stop;
    errno = 0;
    unsigned long long v = strtoull(val, &stop, 0);
    if (stop == val || errno != 0 || (*stop != ',' && *stop != '\0'))
        return -EINVAL;
    *end = stop;
    if (klen == 4 && memcmp(key, "seed", 4) == 0) {
        vl__fault_reseed(f, v);
        return 0;
    }
    for (int k = 0; k < VL__FAULT_KIND_COUNT; k++) {
        if (strlen(fault_keys[k]) == klen && memcmp(key, fault_keys[k], klen) == 0) {
            if (v > VL__FAULT_PPM)
                return -EINVAL;
            f->ppm[k] = (uint32_t)v;
            return 0;
        }
    }
    return -EINVAL;
}

int vl__fault_parse(struct vl__fault *f, const char *spec)
{
    if (f == NULL || spec == NULL)
        return -EINVAL;
    vl__fault_init(f, 0);
    const char *p = spec;
    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        const char *comma = strchr(p, ',');
        if (eq == NULL || (comma != NULL && comma < eq))
            return -EINVAL;
        const char *end;
        int rc = parse_item(f, p, (size_t)(eq - p), eq + 1, &end);
        if (rc < 0)
            return rc;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

#ifdef VLLSI_FAULT_INJECTION
struct vl__fault *vl__fault_active;
__thread bool vl__fault_muted;

void vl__fault_mute_thread(void)
{
    vl__fault_muted = true;
}

int vl__fault_install(struct vl__fault *f)
{
    vl__fault_active = f;
    return 0;
}

int vl__fault_install_env(void)
{
    static struct vl__fault from_env;
    const char *spec = getenv("VLLSI_FAULT");
    if (spec == NULL || spec[0] == '\0')
        return 0;
    int rc = vl__fault_parse(&from_env, spec);
    if (rc < 0)
        return rc;
    vl__fault_active = &from_env;
    return 1;
}
#else
int vl__fault_install(struct vl__fault *f)
{
    (void)f;
    return -EOPNOTSUPP;
}

int vl__fault_install_env(void)
{
    return -EOPNOTSUPP;
}
#endif
