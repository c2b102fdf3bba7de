/*
 * vllsi/sys/mem.h - the seed's OS memory calls: pages straight from the kernel
 * (mmap on Linux), bypassing any allocator. These back the segment allocator.
 *
 * Every mapping here is anonymous, private, readable and writable, and starts
 * zero-filled. Sizes are rounded up to the page size (vl_page_size()); the
 * caller owns the mapping and releases it with vl_os_free() passing the same
 * size it asked for (or any size that rounds to the same page count). Partial
 * frees of page-aligned sub-ranges are allowed, as with munmap.
 *
 * Errors follow the library convention: pointer-returning calls return NULL
 * and store a negative errno in `*err` when `err` is not NULL (on success
 * `*err` is set to 0); int-returning calls return 0 or a negative errno.
 */
#ifndef VLLSI_SYS_MEM_H
#define VLLSI_SYS_MEM_H

#include <stddef.h>

#include <vllsi/sys/common.h>

VL_EXTERN_C_BEGIN

/*
 * vl_os_alloc - map `size` bytes (rounded up to whole pages), zero-filled.
 * Errors: -EINVAL for size 0; -ENOMEM when size cannot be rounded up to a
 * page without overflow or the kernel refuses the mapping.
 */
VL_API void *vl_os_alloc(size_t size, int *err);

/*
 * vl_os_free - unmap [addr, addr + size rounded up to pages). Returns 0, or
 * -EINVAL for a NULL or non-page-aligned addr, for size 0, or for a size that
 * cannot be rounded up to a page. Unmapping a range that is not mapped is not
 * an error (the kernel's rule).
 */
VL_API int vl_os_free(void *addr, size_t size);

/*
 * vl_os_alloc_aligned - like vl_os_alloc, with the result aligned to `align`,
 * which must be a power of two (any size: an alignment below the page size
 * just means page alignment; 2 MiB or 1 GiB work too). For alignments above
 * the page size the call reserves size + align of address space with no
 * access, keeps the aligned part, unmaps both ends and only then makes the
 * kept part accessible, so the reservation never counts against the commit
 * limit and nothing stays mapped besides the result: release it with
 * vl_os_free(p, size). Errors: -EINVAL for size 0 or an align that is 0 or not
 * a power of two; -ENOMEM as for vl_os_alloc (also when size + align
 * overflows).
 */
VL_API void *vl_os_alloc_aligned(size_t size, size_t align, int *err);

/* How vl_os_alloc_huge's memory ended up being backed. */
typedef enum vl_huge_kind {
    VL_HUGE_NONE = 0, /* plain pages: the kernel has no transparent huge pages */
    VL_HUGE_HUGETLB,  /* reserved huge pages (MAP_HUGETLB)                      */
    VL_HUGE_THP,      /* aligned, madvise(MADV_HUGEPAGE) accepted               */
} vl_huge_kind;

typedef struct vl_huge_info {
    size_t size;       /* mapped length: pass this to vl_os_free */
    vl_huge_kind kind; /* what backs the mapping                 */
} vl_huge_info;

/*
 * vl_os_alloc_huge - map `size` bytes rounded up to a multiple of
 * `huge_page_size`, aligned to it, backed by huge pages where the system
 * allows. huge_page_size 0 picks the default: the size one page-table page
 * maps (2 MiB with 4 KiB pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB);
 * otherwise it must be a power of two no smaller than the page size.
 *
 * First MAP_HUGETLB is tried with the size encoded (MAP_HUGE_SHIFT); it fails
 * when no huge pages of that size are reserved (vm.nr_hugepages is 0 on most
 * machines) or the size is unsupported. Then the call falls back to an
 * allocation aligned to huge_page_size plus madvise(MADV_HUGEPAGE): kind
 * VL_HUGE_THP means the kernel accepted the hint (whether pages are really
 * huge also depends on /sys/kernel/mm/transparent_hugepage/enabled and on
 * free memory); VL_HUGE_NONE means THP is not built into the kernel and plain
 * pages back the mapping. `info` is required because info->size is the length
 * to free: vl_os_free(p, info->size).
 *
 * Errors: -EINVAL for a NULL info, size 0, or a bad huge_page_size; -ENOMEM
 * when the rounded size overflows or nothing can be mapped. On failure *info
 * is left untouched.
 */
VL_API void *vl_os_alloc_huge(size_t size, size_t huge_page_size, vl_huge_info *info, int *err);

/*
 * vl_os_protect - change the protection of the pages covering [addr,
 * addr + size) to `prot` (VL_PROT_* bits; VL_PROT_NONE makes any access
 * fault). Returns 0; -EINVAL for a NULL or unaligned addr, size 0, or bits
 * outside VL_PROT_ALL; otherwise what mprotect reported (-ENOMEM when part
 * of the range is not mapped, -EACCES...).
 */
VL_API int vl_os_protect(void *addr, size_t size, vl_mem_prot prot);

/*
 * vl_os_advise - madvise() the pages covering [addr, addr + size). Every
 * vl_mem_advice value maps to the MADV_* of the same name. Returns 0; -EINVAL
 * for a NULL or unaligned addr, size 0 or an advice outside vl_mem_advice;
 * otherwise the kernel's answer, passed through. Notable kernel answers:
 *   VL_ADV_DONTNEED: private anonymous pages read back as zero afterwards.
 *   VL_ADV_FREE:     private anonymous memory only (-EINVAL on shared).
 *   VL_ADV_REMOVE:   shared (shmem/tmpfs) memory only; -EINVAL on the
 *                    private mappings vl_os_alloc returns.
 *   VL_ADV_HUGEPAGE / VL_ADV_NOHUGEPAGE: -EINVAL when the kernel is built
 *                    without transparent huge pages.
 */
VL_API int vl_os_advise(void *addr, size_t size, vl_mem_advice advice);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_MEM_H */
