/* A user program that links only the sys layer from an installed vllsi. */
#include <stdio.h>

#include <vllsi/sys.h>

int main(void)
{
    int err = 0;
    void *p = vl_os_alloc(1, &err);
    if (!p) {
        fprintf(stderr, "vl_os_alloc: %s\n", vl_strerror(err));
        return 1;
    }
    vl_mutex m = VL_MUTEX_INIT;
    vl_mutex_lock(&m);
    vl_mutex_unlock(&m);
    int64_t t = vl_time_monotonic_ns();
    printf("page=%zu t>0=%d tid>0=%d\n", vl_page_size(), t > 0, vl_thread_id() > 0);
    return vl_os_free(p, 1) == 0 ? 0 : 1;
}
