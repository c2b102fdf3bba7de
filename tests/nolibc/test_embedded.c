/*
 * tests/nolibc/test_embedded.c - VLLSI_RUNTIME=embedded without libc: the
 * sys layer's heap operations come from the stack arena of
 * <vllsi/sys/embedded.h> (src/sys/linux/nolibc/mem_arena.c), never from
 * mmap. Checks where the blocks come from, LIFO reuse, out-of-order frees,
 * exhaustion, the -ENOSYS of MMU operations, and that the context frames and
 * threads (whose TLS undo logs are heap blocks) run on arena memory.
 */
#include <vllsi/sys.h>

#include "linux/nolibc/nolibc.h"
#include "nl_test.h"

#define ARENA_SIZE (1u << 20)
static _Alignas(65536) unsigned char arena[ARENA_SIZE];

static int in_arena(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    return a >= (uintptr_t)arena && a + len <= (uintptr_t)arena + sizeof(arena);
}

static void test_default_arena_is_small(void)
{
    /* The built-in 64 KiB arena cannot hold a TLS undo log (~68 KiB). */
    int err = 0;
    NL_CHECK_EQ(vl_stack_available(), VL_STACK_ARENA_DEFAULT_SIZE);
    NL_CHECK(vl_os_alloc(2 * VL_STACK_ARENA_DEFAULT_SIZE, &err) == NULL);
    NL_CHECK_EQ(err, -ENOMEM);
    NL_CHECK_EQ(vl_stack_used(), 0); /* a failed call changes nothing */
    NL_CHECK_EQ(vl_ctx_push_frame(), -ENOMEM);
    NL_CHECK_EQ(vl_stack_set_arena(arena, sizeof(arena)), 0);
}

static void test_blocks_come_from_the_arena(void)
{
    int err = 1;
    size_t page = vl_page_size();
    unsigned char *p = vl_os_alloc(100, &err);
    NL_CHECK(p != NULL && in_arena(p, page));
    NL_CHECK_EQ(err, 0);
    NL_CHECK_EQ((uintptr_t)p & (page - 1), 0);
    NL_CHECK_EQ(vl_stack_used(), page);
    if (p == NULL)
        return;
    int zero = 1;
    for (size_t i = 0; i < page; i++)
        zero &= p[i] == 0;
    NL_CHECK(zero);
    p[0] = 0xaa;
    NL_CHECK_EQ(vl_os_free(p, 100), 0);
    NL_CHECK_EQ(vl_stack_used(), 0);
    /* The same memory comes back, zeroed again. */
    unsigned char *q = vl_os_alloc(page, &err);
    NL_CHECK(q == p);
    NL_CHECK(q != NULL && q[0] == 0);
    NL_CHECK_EQ(vl_os_free(q, page), 0);
}

static void test_lifo_and_out_of_order(void)
{
    int err;
    size_t page = vl_page_size();
    void *a = vl_os_alloc(page, &err);
    void *b = vl_os_alloc(2 * page, &err);
    NL_CHECK(a != NULL && b != NULL && in_arena(b, 2 * page));
    NL_CHECK_EQ(vl_stack_used(), 3 * page);
    NL_CHECK_EQ(vl_os_free(a, page), 0); /* not the top: kept until b goes */
    NL_CHECK_EQ(vl_stack_used(), 3 * page);
    NL_CHECK_EQ(vl_os_free(a, page), -EINVAL); /* double free */
    NL_CHECK_EQ(vl_os_free(b, 2 * page), 0);
    NL_CHECK_EQ(vl_stack_used(), 0);
    /* A block the program took with vl_stack_alloc above ours survives. */
    void *c = vl_os_alloc(page, &err);
    void *mine = vl_stack_alloc(64, 0);
    NL_CHECK(mine != NULL);
    size_t used = vl_stack_used();
    NL_CHECK_EQ(vl_os_free(c, page), 0);
    NL_CHECK_EQ(vl_stack_used(), used);
    NL_CHECK_EQ(vl_stack_reset(0), 0);
}

static void test_bad_input_and_exhaustion(void)
{
    int err = 0;
    size_t page = vl_page_size();
    static unsigned char not_ours[8192] __attribute__((aligned(4096)));
    NL_CHECK(vl_os_alloc(0, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK(vl_os_alloc(SIZE_MAX, &err) == NULL);
    NL_CHECK_EQ(err, -ENOMEM);
    NL_CHECK(vl_os_alloc(ARENA_SIZE + page, &err) == NULL);
    NL_CHECK_EQ(err, -ENOMEM);
    NL_CHECK(vl_os_alloc_aligned(page, 3, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK_EQ(vl_os_free(NULL, page), -EINVAL);
    NL_CHECK_EQ(vl_os_free(not_ours, page), -EINVAL);
    void *p = vl_os_alloc(page, &err);
    NL_CHECK_EQ(vl_os_free(p, 2 * page), -EINVAL); /* wrong size */
    NL_CHECK_EQ(vl_os_protect(p, page, VL_PROT_READ), -ENOSYS);
    NL_CHECK_EQ(vl_os_protect(p, page, (vl_mem_prot)0x100), -EINVAL);
    NL_CHECK_EQ(vl_os_advise(p, page, VL_ADV_DONTNEED), -ENOSYS);
    NL_CHECK_EQ(vl_os_advise(p, page, VL_ADV_COUNT_), -EINVAL);
    NL_CHECK_EQ(vl_os_free(p, page), 0);
    void *al = vl_os_alloc_aligned(page, 65536, &err);
    NL_CHECK(al != NULL && ((uintptr_t)al & 65535) == 0 && in_arena(al, page));
    NL_CHECK_EQ(vl_os_free(al, page), 0);
    vl_huge_info hi = {0, VL_HUGE_THP};
    void *h = vl_os_alloc_huge(3 * page, 0, &hi, &err);
    NL_CHECK(h != NULL && in_arena(h, 3 * page));
    NL_CHECK_EQ(hi.kind, VL_HUGE_NONE);
    NL_CHECK_EQ(hi.size, 3 * page);
    NL_CHECK_EQ(vl_os_free(h, hi.size), 0);
    NL_CHECK(vl_os_alloc_huge(page, 0, NULL, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK_EQ(vl_stack_used(), 0);
}

static void test_table_limit(void)
{
    /* The live-block table is fixed: the 65th live block is refused. */
    int err = 0;
    void *blocks[64];
    size_t page = vl_page_size();
    int n = 0;
    while (n < 64 && (blocks[n] = vl_os_alloc(page, &err)) != NULL)
        n++;
    NL_CHECK_EQ(n, 64);
    NL_CHECK(vl_os_alloc(page, &err) == NULL);
    NL_CHECK_EQ(err, -ENOMEM);
    while (n-- > 0)
        NL_CHECK_EQ(vl_os_free(blocks[n], page), 0);
    NL_CHECK_EQ(vl_stack_used(), 0);
}

static void ctx_frames(void *unused)
{
    (void)unused;
    NL_CHECK_EQ(vl_ctx_push_frame(), 0);
    NL_CHECK_EQ(vl_ctx_set(1, 7), 0);
    NL_CHECK_EQ(vl_ctx_pop_frame(), 0);
    NL_CHECK(!vl_ctx_has(1));
}

static void test_ctx_and_threads_on_the_arena(void)
{
    ctx_frames(NULL);
    size_t main_log = vl_stack_used();
    NL_CHECK(main_log > 0); /* the main thread's undo log lives in the arena */
    vl_thread *t;
    NL_CHECK_EQ(vl_thread_spawn(ctx_frames, NULL, 0, &t), 0);
    NL_CHECK_EQ(vl_thread_join(t), 0);
    /* The thread's log was the top block and went back at its exit. */
    NL_CHECK_EQ(vl_stack_used(), main_log);
    vl_cleanup_thread();
    NL_CHECK_EQ(vl_stack_used(), 0);
}

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    NL_RUN(test_default_arena_is_small);
    NL_RUN(test_blocks_come_from_the_arena);
    NL_RUN(test_lifo_and_out_of_order);
    NL_RUN(test_bad_input_and_exhaustion);
    NL_RUN(test_table_limit);
    NL_RUN(test_ctx_and_threads_on_the_arena);
    return nl_finish("embedded");
}
