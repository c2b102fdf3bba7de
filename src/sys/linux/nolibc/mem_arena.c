/*
 * src/sys/linux/nolibc/mem_arena.c - the sys layer's memory API for
 * VLLSI_RUNTIME=embedded: every heap operation is served by the global stack
 * arena of <vllsi/sys/embedded.h> (a static 64 KiB buffer, or whatever the
 * program installed with vl_stack_set_arena), and none reaches mmap.
 *
 * What the arena can and cannot do shapes the contract:
 *   - blocks keep the hosted build's page granularity and alignment, so code
 *     written for vl_os_alloc (the TLS undo log, page-sized tables) works
 *     unchanged, and are zero-filled as mmap's would be;
 *   - a stack allocator frees in LIFO order only. vl_os_free marks its block
 *     free and gives the arena back every free block at its top, so
 *     alloc/free pairs that nest (the common case: a scope's scratch) reuse
 *     memory; a block freed out of order is reclaimed once everything above
 *     it is freed too;
 *   - there is no MMU to program: protect and advise answer -ENOSYS, and
 *     "huge" allocations are plain page-aligned blocks (VL_HUGE_NONE).
 *
 * The table of live blocks is fixed (MAX_LIVE entries): no allocation to
 * track allocations. One spinlock covers it and the arena, because threads
 * may each map a TLS log; the arena itself is not thread-safe (embedded.h).
 */
#include <vllsi/sys/embedded.h>
#include <vllsi/sys/mem.h>
#include <vllsi/sys/sync.h>

#include "mem_common.h"

void *memset(void *dst, int c, size_t n);

#define MAX_LIVE 64u

/* A block this file handed out: the arena top before and after it. */
struct live_block {
    uintptr_t addr;
    size_t len;
    size_t mark_before;
    size_t mark_after;
    bool freed;
};

static struct live_block live[MAX_LIVE];
static unsigned nlive;
static vl_spinlock lock; /* all-zero is the unlocked state */

/* Take len bytes aligned to align from the arena and record them. */
static void *arena_take(size_t len, size_t align, int *err)
{
    (void)vl_spin_lock(&lock);
    void *p = NULL;
    if (nlive < MAX_LIVE) {
        size_t before = vl_stack_mark();
        p = vl_stack_alloc(len, align);
        if (p != NULL)
            live[nlive++] = (struct live_block){(uintptr_t)p, len, before, vl_stack_mark(), false};
    }
    (void)vl_spin_unlock(&lock);
    if (p == NULL)
        return set_err(err, -ENOMEM);
    memset(p, 0, len);
    set_err(err, 0);
    return p;
}

/* Pop freed blocks off the top of the table. A block is handed back to the
 * arena only when it is still the arena's top, so memory the program took
 * with vl_stack_alloc above it is never released behind its back. */
static void arena_trim(void)
{
    while (nlive > 0 && live[nlive - 1].freed) {
        struct live_block *b = &live[nlive - 1];
        if (vl_stack_mark() == b->mark_after)
            (void)vl_stack_reset(b->mark_before);
        nlive--;
    }
}

void *vl_os_alloc(size_t size, int *err)
{
    size_t len;
    int rc = mem_alloc_len(size, &len);
    if (rc < 0)
        return set_err(err, rc);
    return arena_take(len, vl_page_size(), err);
}

void *vl_os_alloc_aligned(size_t size, size_t align, int *err)
{
    size_t len;
    if (size == 0 || !is_pow2(align))
        return set_err(err, -EINVAL);
    int rc = mem_alloc_len(size, &len);
    if (rc < 0)
        return set_err(err, rc);
    return arena_take(len, align > vl_page_size() ? align : vl_page_size(), err);
}

void *vl_os_alloc_huge(size_t size, size_t huge_page_size, vl_huge_info *info, int *err)
{
    if (info == NULL || size == 0 || (huge_page_size & (huge_page_size - 1)) != 0)
        return set_err(err, -EINVAL);
    void *p = vl_os_alloc(size, err);
    if (p != NULL) {
        info->size = vl_page_align_up(size);
        info->kind = VL_HUGE_NONE;
    }
    return p;
}

int vl_os_free(void *addr, size_t size)
{
    if (addr == NULL || size == 0 || !vl_is_page_aligned((uintptr_t)addr))
        return -EINVAL;
    size_t len = vl_page_align_up(size);
    int rc = -EINVAL;
    (void)vl_spin_lock(&lock);
    /* Newest first: after a vl_stack_reset an address can be handed out
     * again, and the newest record is the one still alive. */
    for (unsigned i = nlive; i-- > 0;) {
        if (live[i].addr == (uintptr_t)addr && !live[i].freed) {
            if (live[i].len == len) {
                live[i].freed = true;
                rc = 0;
            }
            break;
        }
    }
    arena_trim();
    (void)vl_spin_unlock(&lock);
    return rc;
}

/* The arena has no pages to protect or advise: the hosted checks, then
 * -ENOSYS. */
static int no_mmu(const void *addr, size_t size)
{
    if (addr == NULL || size == 0 || !vl_is_page_aligned((uintptr_t)addr))
        return -EINVAL;
    return -ENOSYS;
}

int vl_os_protect(void *addr, size_t size, vl_mem_prot prot)
{
    if ((unsigned)prot & ~(unsigned)VL_PROT_ALL)
        return -EINVAL;
    return no_mmu(addr, size);
}

int vl_os_advise(void *addr, size_t size, vl_mem_advice advice)
{
    if ((unsigned)advice >= (unsigned)VL_ADV_COUNT_)
        return -EINVAL;
    return no_mmu(addr, size);
}
