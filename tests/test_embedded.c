/* sys.embedded - the stack (bump) allocator over a fixed arena. */
#include "vl_test.h"

#include <errno.h>
#include <stdalign.h>

#include <vllsi/sys/embedded.h>

static _Alignas(4096) unsigned char arena_buf[16384];

static void test_init(void **state)
{
    (void)state;
    vl_stack_arena a;
    assert_int_equal(vl_stack_arena_init(&a, arena_buf, sizeof(arena_buf)), 0);
    assert_ptr_equal(a.base, arena_buf);
    assert_int_equal(a.size, sizeof(arena_buf));
    assert_int_equal(vl_stack_arena_used(&a), 0);
    assert_int_equal(vl_stack_arena_available(&a), sizeof(arena_buf));
    assert_int_equal(vl_stack_arena_mark(&a), 0);

    assert_int_equal(vl_stack_arena_init(NULL, arena_buf, 16), -EINVAL);
    assert_int_equal(vl_stack_arena_init(&a, NULL, 16), -EINVAL);
    assert_int_equal(vl_stack_arena_init(&a, arena_buf, 0), -EINVAL);
    /* A buffer that would wrap around the address space. */
    assert_int_equal(vl_stack_arena_init(&a, arena_buf, SIZE_MAX), -EINVAL);
    /* Failed inits left the arena as it was. */
    assert_ptr_equal(a.base, arena_buf);
    assert_int_equal(a.size, sizeof(arena_buf));
}

static void test_alignment(void **state)
{
    (void)state;
    vl_stack_arena a;
    /* Start from an odd address so every alignment needs real padding. */
    assert_int_equal(vl_stack_arena_init(&a, arena_buf + 1, sizeof(arena_buf) - 1), 0);
    for (size_t align = 1; align <= 4096; align <<= 1) {
        assert_int_equal(vl_stack_arena_reset(&a, 0), 0);
        unsigned char *p = vl_stack_arena_alloc(&a, 3, align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        assert_true(p >= arena_buf + 1);
        assert_true(p + 3 <= arena_buf + sizeof(arena_buf));
        /* used counts the padding too. */
        assert_int_equal(vl_stack_arena_used(&a), (size_t)(p - (arena_buf + 1)) + 3);
        memset(p, 0xEE, 3);
        /* A second block of the same alignment follows, not overlapping. */
        unsigned char *q = vl_stack_arena_alloc(&a, 5, align);
        assert_non_null(q);
        assert_int_equal((uintptr_t)q % align, 0);
        assert_true(q >= p + 3);
    }
    /* 0 means max_align_t. */
    assert_int_equal(vl_stack_arena_reset(&a, 0), 0);
    void *p = vl_stack_arena_alloc(&a, 1, 0);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
}

static void test_fill_reset_reuse(void **state)
{
    (void)state;
    vl_stack_arena a;
    assert_int_equal(vl_stack_arena_init(&a, arena_buf, 1024), 0);
    void *first = vl_stack_arena_alloc(&a, 100, 8);
    assert_ptr_equal(first, arena_buf);
    size_t mark = vl_stack_arena_mark(&a);
    assert_int_equal(mark, 100);

    void *blocks[64];
    size_t n = 0;
    for (;;) {
        void *p = vl_stack_arena_alloc(&a, 64, 8);
        if (p == NULL)
            break;
        assert_true(n < 64);
        memset(p, (int)n, 64);
        blocks[n++] = p;
    }
    /* 100 bytes + 4 padding to 104, then 14 blocks of 64 = 1000 bytes. */
    assert_int_equal(n, 14);
    size_t used = vl_stack_arena_used(&a);
    assert_int_equal(used, 1000);
    assert_int_equal(vl_stack_arena_available(&a), 24);
    /* A failed alloc changes nothing; a fitting one still works. */
    assert_null(vl_stack_arena_alloc(&a, 25, 1));
    assert_int_equal(vl_stack_arena_used(&a), used);
    assert_non_null(vl_stack_arena_alloc(&a, 24, 1));
    assert_int_equal(vl_stack_arena_available(&a), 0);
    assert_null(vl_stack_arena_alloc(&a, 1, 1));

    /* Back to the mark: the same blocks come out again. */
    assert_int_equal(vl_stack_arena_reset(&a, mark), 0);
    assert_int_equal(vl_stack_arena_used(&a), 100);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(vl_stack_arena_alloc(&a, 64, 8), blocks[i]);
    /* The block before the mark was not disturbed by the reset. */
    assert_ptr_equal(first, arena_buf);
    assert_int_equal(vl_stack_arena_reset(&a, 0), 0);
    assert_int_equal(vl_stack_arena_used(&a), 0);
    assert_ptr_equal(vl_stack_arena_alloc(&a, 1024, 1), arena_buf);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    vl_stack_arena a;
    assert_int_equal(vl_stack_arena_init(&a, arena_buf, 256), 0);
    assert_null(vl_stack_arena_alloc(NULL, 8, 8));
    assert_null(vl_stack_arena_alloc(&a, 0, 8));
    assert_null(vl_stack_arena_alloc(&a, 8, 3));
    assert_null(vl_stack_arena_alloc(&a, 8, 12));
    assert_null(vl_stack_arena_alloc(&a, 8, SIZE_MAX));
    /* Sizes that would overflow any naive sum. */
    assert_null(vl_stack_arena_alloc(&a, SIZE_MAX, 1));
    assert_null(vl_stack_arena_alloc(&a, SIZE_MAX - 7, 8));
    assert_null(vl_stack_arena_alloc(&a, 257, 1));
    /* A huge alignment that no address in the buffer can meet. */
    assert_null(vl_stack_arena_alloc(&a, 1, (size_t)1 << (sizeof(size_t) * 8 - 1)));
    assert_int_equal(vl_stack_arena_used(&a), 0);

    assert_non_null(vl_stack_arena_alloc(&a, 16, 1));
    assert_int_equal(vl_stack_arena_reset(&a, 17), -EINVAL);
    assert_int_equal(vl_stack_arena_reset(&a, SIZE_MAX), -EINVAL);
    assert_int_equal(vl_stack_arena_reset(NULL, 0), -EINVAL);
    assert_int_equal(vl_stack_arena_used(&a), 16);

    assert_int_equal(vl_stack_arena_mark(NULL), 0);
    assert_int_equal(vl_stack_arena_used(NULL), 0);
    assert_int_equal(vl_stack_arena_available(NULL), 0);
    /* A zeroed (never initialised) arena refuses to allocate. */
    vl_stack_arena zero = {NULL, 0, 0};
    assert_null(vl_stack_arena_alloc(&zero, 1, 1));
    assert_int_equal(vl_stack_arena_available(&zero), 0);
}

static void test_global_default(void **state)
{
    (void)state;
    assert_int_equal(vl_stack_set_arena(NULL, 0), 0);
    assert_int_equal(vl_stack_used(), 0);
    assert_int_equal(vl_stack_available(), VL_STACK_ARENA_DEFAULT_SIZE);
    size_t m0 = vl_stack_mark();
    unsigned char *p = vl_stack_alloc(1000, 64);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    memset(p, 1, 1000);
    size_t m1 = vl_stack_mark();
    assert_int_equal(m1, 1000);
    assert_non_null(vl_stack_alloc(VL_STACK_ARENA_DEFAULT_SIZE - 1000, 1));
    assert_null(vl_stack_alloc(1, 1));
    assert_null(vl_stack_alloc(SIZE_MAX, 0));
    assert_null(vl_stack_alloc(8, 6));
    assert_int_equal(vl_stack_reset(m1), 0);
    assert_int_equal(vl_stack_used(), 1000);
    assert_int_equal(vl_stack_reset(m1 + 1), -EINVAL);
    assert_int_equal(vl_stack_reset(m0), 0);
    assert_ptr_equal(vl_stack_alloc(1000, 64), p);
    assert_int_equal(vl_stack_reset(0), 0);
}

static void test_global_set_arena(void **state)
{
    (void)state;
    static _Alignas(16) unsigned char mine[256];
    assert_int_equal(vl_stack_set_arena(mine, sizeof(mine)), 0);
    assert_int_equal(vl_stack_available(), sizeof(mine));
    unsigned char *p = vl_stack_alloc(200, 16);
    assert_ptr_equal(p, mine);
    assert_null(vl_stack_alloc(57, 1));
    assert_non_null(vl_stack_alloc(56, 1));
    /* Bad arguments keep the installed arena. */
    assert_int_equal(vl_stack_set_arena(NULL, 16), -EINVAL);
    assert_int_equal(vl_stack_set_arena(mine, 0), -EINVAL);
    assert_int_equal(vl_stack_used(), 256);
    /* Installing again starts empty. */
    assert_int_equal(vl_stack_set_arena(mine, sizeof(mine)), 0);
    assert_int_equal(vl_stack_used(), 0);
    /* Back to the built-in buffer. */
    assert_int_equal(vl_stack_set_arena(NULL, 0), 0);
    assert_int_equal(vl_stack_available(), VL_STACK_ARENA_DEFAULT_SIZE);
    p = vl_stack_alloc(16, 16);
    assert_non_null(p);
    assert_true(p < mine || p >= mine + sizeof(mine));
    assert_int_equal(vl_stack_reset(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_fill_reset_reuse),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_global_default),
        cmocka_unit_test(test_global_set_arena),
    };
    return cmocka_run_group_tests_name("sys.embedded", tests, NULL, NULL);
}
