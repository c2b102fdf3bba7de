/*
 * tests/nolibc/test_noruntime.c - VLLSI_RUNTIME=no_runtime: every heap
 * operation fails with -ENOSYS (after the usual argument checks), while the
 * kernel-free parts keep working: the stack arena, bit operations, error
 * names, page arithmetic and the context slots. The companion check
 * (check.sh noruntime) proves from the link map that no library object
 * linked here contains a system call instruction; this program's own output
 * goes through the test harness's inline write, outside the library.
 */
#include <vllsi/sys/bits.h>
#include <vllsi/sys/ctx.h>
#include <vllsi/sys/embedded.h>
#include <vllsi/sys/mem.h>

#include "nl_test.h"

static void test_heap_says_enosys(void)
{
    int err = 0;
    vl_huge_info hi;
    static unsigned char page[8192] __attribute__((aligned(4096)));
    NL_CHECK(vl_os_alloc(4096, &err) == NULL);
    NL_CHECK_EQ(err, -ENOSYS);
    NL_CHECK(vl_os_alloc(0, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK(vl_os_alloc_aligned(4096, 1 << 16, &err) == NULL);
    NL_CHECK_EQ(err, -ENOSYS);
    NL_CHECK(vl_os_alloc_aligned(4096, 3, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK(vl_os_alloc_huge(4096, 0, &hi, &err) == NULL);
    NL_CHECK_EQ(err, -ENOSYS);
    NL_CHECK(vl_os_alloc_huge(4096, 0, NULL, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK_EQ(vl_os_free(page, 4096), -ENOSYS);
    NL_CHECK_EQ(vl_os_free(NULL, 4096), -EINVAL);
    NL_CHECK_EQ(vl_os_free(page + 1, 4096), -EINVAL);
    NL_CHECK_EQ(vl_os_protect(page, 4096, VL_PROT_READ), -ENOSYS);
    NL_CHECK_EQ(vl_os_protect(page, 4096, (vl_mem_prot)0x100), -EINVAL);
    NL_CHECK_EQ(vl_os_advise(page, 4096, VL_ADV_NORMAL), -ENOSYS);
    NL_CHECK_EQ(vl_os_advise(page, 4096, VL_ADV_COUNT_), -EINVAL);
}

static void test_kernel_free_parts(void)
{
    NL_CHECK_EQ(vl_page_size(), VL_PAGE_SIZE_MIN);
    NL_CHECK_EQ(vl_page_shift(), 12);
    NL_CHECK_EQ(vl_page_align_up(1), 4096);
    NL_CHECK_EQ(vl_page_align_up(SIZE_MAX), 0);
    NL_CHECK_EQ(vl_page_align_down(8191), 4096);
    NL_CHECK(vl_is_page_aligned(8192));
    void *p = vl_stack_alloc(100, 64);
    NL_CHECK(p != NULL && ((uintptr_t)p & 63) == 0);
    NL_CHECK_EQ(vl_stack_reset(0), 0);
    NL_CHECK(vl_stack_alloc(VL_STACK_ARENA_DEFAULT_SIZE + 1, 0) == NULL);
    vl_os_error e = vl_os_error_from(ENOSYS);
    NL_CHECK_EQ(e.code, -ENOSYS);
    NL_CHECK(e.message != NULL && e.message[0] != '\0');
    /* Slots need only the thread pointer; frames need a heap for the undo
     * log, so they report the heap's -ENOSYS. */
    NL_CHECK_EQ(vl_ctx_provide(2, 11), 0);
    uintptr_t v = 0;
    NL_CHECK_EQ(vl_ctx_require(2, &v), 0);
    NL_CHECK_EQ(v, 11);
    NL_CHECK_EQ(vl_ctx_push_frame(), -ENOSYS);
    NL_CHECK_EQ(vl_ctx_clear(2), 0);
}

/* MMIO-style access, as a bootloader would use it on device registers. */
static void test_bits_and_regions(void)
{
    static uint32_t regs[4];
    vl_memory_region r = {regs, sizeof(regs), false};
    uint32_t v = 0;
    NL_CHECK_EQ(vl_region_write32(&r, 4, 0xdeadbeef), 0);
    NL_CHECK_EQ(vl_region_read32(&r, 4, &v), 0);
    NL_CHECK_EQ(v, 0xdeadbeef);
    NL_CHECK_EQ(vl_region_read32(&r, 16, &v), -ERANGE);
    NL_CHECK_EQ(vl_region_read32(&r, 2, &v), -EINVAL);
    NL_CHECK_EQ(vl_extract_bits(0xf0, 0xf0, 4), 0xf);
    NL_CHECK_EQ(vl_insert_bits(0, 5, 0x70, 4), 0x50);
}

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    NL_RUN(test_heap_says_enosys);
    NL_RUN(test_kernel_free_parts);
    NL_RUN(test_bits_and_regions);
    return nl_finish("no_runtime");
}
