/* A user program that links the engine from an installed vllsi. */
#include <stdio.h>

#include <vllsi/engine.h>

int main(void)
{
    vl_engine *e;
    int rc = vl_engine_create(NULL, &e);
    if (rc < 0) {
        fprintf(stderr, "vl_engine_create: %d\n", rc);
        return 1;
    }
    vl_op op = vl_op_nop();
    int64_t id = vl_engine_submit(e, &op, NULL);
    vl_completion c;
    int n = vl_engine_poll(e, -1, &c, 1);
    printf("driver=%s nop=%d\n", vl_engine_driver_name(e),
           n == 1 && c.id == (uint64_t)id && c.result == 0);
    vl_engine_destroy(e);
    return n == 1 ? 0 : 1;
}
