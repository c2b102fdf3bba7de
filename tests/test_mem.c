/* sys.mem: OS memory straight from mmap (vl_os_alloc and friends). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/mman.h>
#endif

#include "vl_test.h"

#include <vllsi/sys/common.h>
#ifdef __linux__
#include <vllsi/sys/linux.h>
#endif
#include <vllsi/sys/mem.h>

#ifdef _WIN32
/* Windows has no /proc/self/maps: count the reservations (allocation bases)
 * in the address space instead; a leaked mapping shows up the same way. */
static int maps_lines(void)
{
    MEMORY_BASIC_INFORMATION mi;
    int n = 0;
    for (char *q = NULL; VirtualQuery(q, &mi, sizeof(mi)) != 0;
         q = (char *)mi.BaseAddress + mi.RegionSize)
        n += mi.State != MEM_FREE && mi.BaseAddress == mi.AllocationBase;
    return n;
}

/* Freed pages are decommitted at once (the reservation goes when its last
 * page does): a page is "mapped" while it is committed. */
static bool is_mapped(void *addr)
{
    MEMORY_BASIC_INFORMATION mi;
    return VirtualQuery(addr, &mi, sizeof(mi)) != 0 && mi.State == MEM_COMMIT;
}

/* The page protection VirtualQuery reports for addr. */
static DWORD protection_of(void *addr)
{
    MEMORY_BASIC_INFORMATION mi;
    assert_int_not_equal(VirtualQuery(addr, &mi, sizeof(mi)), 0);
    return mi.Protect;
}
#elif defined(__APPLE__)
/* macOS has no /proc/self/maps: count the VM regions (mach_vm_region, which
 * allocates nothing); a leaked mapping shows up the same way. */
static int maps_lines(void)
{
    return vl_test_count_regions();
}

static bool is_mapped(void *addr)
{
    return vl_test_region_mapped(addr);
}
#else

/* Lines in /proc/self/maps, counted with plain read() so that counting
 * allocates nothing (stdio or a sanitizer's malloc could add mappings). */
static int maps_lines(void)
{
    static char buf[65536];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    close(fd);
    return lines;
}

/* True when the page at addr is mapped at all (mincore answers -ENOMEM
 * for unmapped addresses). */
static bool is_mapped(void *addr)
{
    unsigned char vec[1];
    return mincore(addr, 1, vec) == 0 || errno != ENOMEM;
}

/* The two-letter VmFlags of the mapping containing addr, from smaps
 * ("sr" sequential, "rr" random, "dc" dontfork, "hg"/"nh" hugepage...). */
static bool has_vmflag(void *addr, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool in = false, found = false;
    uintptr_t a = (uintptr_t)addr;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = a >= lo && a < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            for (char *tok = strtok(line + 8, " \n"); tok; tok = strtok(NULL, " \n"))
                if (strcmp(tok, flag) == 0)
                    found = true;
            break;
        }
    }
    fclose(f);
    return found;
}
#endif /* _WIN32, __APPLE__ */

/* The signal a write to a protected page raises: macOS reports a protection
 * fault as SIGBUS (SIGSEGV is for an unmapped address there). */
#ifdef __APPLE__
#define PROT_FAULT_SIGNAL SIGBUS
#else
#define PROT_FAULT_SIGNAL SIGSEGV
#endif

/*
 * Valgrind's memcheck maps shadow memory as the client touches new address
 * ranges, and its mmap emulation refuses absurd lengths with -EINVAL where
 * the kernel says -ENOMEM: the few checks that depend on either know.
 */
static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, "vgpreload") != NULL;
}

/* /proc/self/maps has exactly `base` lines again (not checked under
 * valgrind, whose own mappings come and go). */
static void assert_maps_back_to(int base)
{
    if (!under_valgrind())
        assert_int_equal(maps_lines(), base);
}

/* The error the kernel gives for a length no address space can hold. */
static void assert_too_big(int err)
{
    if (under_valgrind())
        assert_true(err == -ENOMEM || err == -EINVAL);
    else
        assert_int_equal(err, -ENOMEM);
}

static void test_alloc_free(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    size_t sizes[] = {1, 100, page - 1, page, page + 1, 3 * page, 1u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int err = 1;
        unsigned char *p = vl_os_alloc(sizes[i], &err);
        assert_non_null(p);
        assert_int_equal(err, 0);
        assert_true(vl_is_page_aligned((uintptr_t)p));
        size_t len = vl_page_align_up(sizes[i]);
        /* Fresh anonymous memory is zero and the whole rounded size is ours. */
        for (size_t j = 0; j < len; j += 512)
            assert_int_equal(p[j], 0);
        memset(p, 0x5a, len);
        assert_int_equal(p[len - 1], 0x5a);
        assert_int_equal(vl_os_free(p, sizes[i]), 0);
        assert_false(is_mapped(p));
    }
    /* err may be NULL. */
    void *p = vl_os_alloc(10, NULL);
    assert_non_null(p);
    assert_int_equal(vl_os_free(p, 10), 0);
}

static void test_alloc_bad(void **state)
{
    (void)state;
    int err = 0;
    assert_null(vl_os_alloc(0, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(vl_os_alloc(0, NULL));
    assert_null(vl_os_alloc(SIZE_MAX, &err));
    assert_int_equal(err, -ENOMEM);
    assert_null(vl_os_alloc(SIZE_MAX - vl_page_size() + 2, &err));
    assert_int_equal(err, -ENOMEM);
    /* Rounds fine but exceeds any address space: the kernel's -ENOMEM. */
    assert_null(vl_os_alloc((size_t)1 << 60, &err));
    assert_too_big(err);
}

static void test_free_bad(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    assert_int_equal(vl_os_free(NULL, page), -EINVAL);
    unsigned char *p = vl_os_alloc(2 * page, NULL);
    assert_non_null(p);
    assert_int_equal(vl_os_free(p + 1, page), -EINVAL);
    assert_int_equal(vl_os_free(p, 0), -EINVAL);
    assert_int_equal(vl_os_free(p, SIZE_MAX), -EINVAL);
    /* The failed calls unmapped nothing. */
    p[0] = 1;
    p[2 * page - 1] = 1;
    /* Partial frees work like munmap. */
    assert_int_equal(vl_os_free(p + page, page), 0);
    assert_true(is_mapped(p));
    assert_false(is_mapped(p + page));
    assert_int_equal(vl_os_free(p, page), 0);
    assert_false(is_mapped(p));
}

static void test_aligned(void **state)
{
    (void)state;
    int base = maps_lines();
    for (unsigned shift = 12; shift <= 30; shift++) {
        size_t align = (size_t)1 << shift;
        size_t sizes[] = {100, align <= (4u << 20) ? align : 3 * vl_page_size()};
        for (int k = 0; k < 2; k++) {
            int err = 1;
            unsigned char *p = vl_os_alloc_aligned(sizes[k], align, &err);
            assert_non_null(p);
            assert_int_equal(err, 0);
            assert_int_equal((uintptr_t)p & (align - 1), 0);
            size_t len = vl_page_align_up(sizes[k]);
            assert_int_equal(p[0], 0);
            assert_int_equal(p[len - 1], 0);
            p[0] = 1;
            p[len - 1] = 2;
            assert_int_equal(vl_os_free(p, sizes[k]), 0);
        }
    }
    /* The over-mapped slack was trimmed on both sides: nothing stayed. */
    assert_maps_back_to(base);

    /* Alignments at or below the page size mean page alignment. */
    for (size_t align = 1; align <= vl_page_size(); align <<= 1) {
        void *p = vl_os_alloc_aligned(10, align, NULL);
        assert_non_null(p);
        assert_true(vl_is_page_aligned((uintptr_t)p));
        assert_int_equal(vl_os_free(p, 10), 0);
    }
}

static void test_aligned_trim(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    size_t align = (size_t)1 << 30;
    int base = maps_lines();
    unsigned char *p = vl_os_alloc_aligned(page, align, NULL);
    assert_non_null(p);
    /* Only the result is mapped (one line, or none if it merged with a
     * neighbour): an untrimmed head or tail would show up as extra lines. */
    if (!under_valgrind())
        assert_true(maps_lines() <= base + 1);
    assert_false(is_mapped(p + page) && is_mapped(p + 2 * page) && is_mapped(p + align / 2));
    assert_int_equal(vl_os_free(p, page), 0);
    assert_maps_back_to(base);
}

static void test_aligned_bad(void **state)
{
    (void)state;
    int err = 0;
    size_t bad_aligns[] = {0, 3, 12, 4097, 3u << 20, SIZE_MAX};
    for (size_t i = 0; i < sizeof(bad_aligns) / sizeof(bad_aligns[0]); i++) {
        err = 0;
        assert_null(vl_os_alloc_aligned(4096, bad_aligns[i], &err));
        assert_int_equal(err, -EINVAL);
    }
    assert_null(vl_os_alloc_aligned(0, 4096, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(vl_os_alloc_aligned(0, 1u << 21, NULL));
    assert_null(vl_os_alloc_aligned(SIZE_MAX, 1u << 21, &err));
    assert_int_equal(err, -ENOMEM);
    /* size + align overflows. */
    assert_null(
        vl_os_alloc_aligned((SIZE_MAX >> 1) + 2 * vl_page_size(), (SIZE_MAX >> 1) + 1, &err));
    assert_int_equal(err, -ENOMEM);
    /* Representable, but more than any address space. */
    assert_null(vl_os_alloc_aligned(4096, (size_t)1 << 62, &err));
    assert_too_big(err);
}

static long read_long_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static void test_huge_fallback(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    size_t def = page * (page / 8); /* 2 MiB with 4 KiB pages */
#ifdef __linux__
    /* Warm stdio (and a sanitizer's allocator) up before the baseline. */
    (void)has_vmflag(&page, "rd");
#endif
    int base = maps_lines();

    /* What the kernel says to MADV_HUGEPAGE decides THP vs NONE. */
    void *probe = vl_os_alloc(page, NULL);
    assert_non_null(probe);
    int thp = vl_os_advise(probe, page, VL_ADV_HUGEPAGE);
    assert_true(thp == 0 || thp == -EINVAL);
    assert_int_equal(vl_os_free(probe, page), 0);

    vl_huge_info info = {0, VL_HUGE_NONE};
    int err = 1;
    unsigned char *p = vl_os_alloc_huge(1, 0, &info, &err);
    assert_non_null(p);
    assert_int_equal(err, 0);
    assert_int_equal(info.size, def);
    assert_int_equal((uintptr_t)p & (def - 1), 0);
    if (info.kind != VL_HUGE_HUGETLB) {
        assert_int_equal(info.kind, thp == 0 ? VL_HUGE_THP : VL_HUGE_NONE);
#ifdef __linux__
        if (info.kind == VL_HUGE_THP && !vl_test_emulated()) /* qemu: madvise is a no-op */
            assert_true(has_vmflag(p, "hg"));
#endif
    }
    p[0] = 1;
    p[info.size - 1] = 2;
    assert_int_equal(vl_os_free(p, info.size), 0);

    /* Rounded up to whole huge pages. */
    p = vl_os_alloc_huge(def + 1, def, &info, &err);
    assert_non_null(p);
    assert_int_equal(info.size, 2 * def);
    assert_int_equal((uintptr_t)p & (def - 1), 0);
    assert_int_equal(vl_os_free(p, info.size), 0);

    /* A size no kernel offers as hugetlb (64 KiB on x86-64) still works. */
    p = vl_os_alloc_huge(100, 16 * page, &info, &err);
    assert_non_null(p);
    assert_int_equal(info.size, 16 * page);
    assert_int_equal((uintptr_t)p & (16 * page - 1), 0);
    assert_int_equal(vl_os_free(p, info.size), 0);

    if (read_long_file("/proc/sys/vm/nr_hugepages") == 0) {
        /* Nothing reserved: hugetlb cannot have been used. */
        p = vl_os_alloc_huge(1, 0, &info, NULL);
        assert_non_null(p);
        assert_int_not_equal(info.kind, VL_HUGE_HUGETLB);
        assert_int_equal(vl_os_free(p, info.size), 0);
    }
    assert_maps_back_to(base);
}

static void test_huge_hugetlb(void **state)
{
    (void)state;
    long reserved = read_long_file("/proc/sys/vm/nr_hugepages");
    long free_pages = read_long_file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
    if (reserved <= 0 || free_pages <= 0 || vl_page_size() != 4096)
        skip(); /* no 2 MiB huge pages reserved on this machine */
    vl_huge_info info;
    unsigned char *p = vl_os_alloc_huge(1, 0, &info, NULL);
    assert_non_null(p);
    assert_int_equal(info.kind, VL_HUGE_HUGETLB);
    assert_int_equal(info.size, 2u << 20);
    p[0] = 1;
    assert_int_equal(vl_os_free(p, info.size), 0);
}

static void test_huge_bad(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    vl_huge_info info = {12345, VL_HUGE_THP};
    int err = 0;
    assert_null(vl_os_alloc_huge(100, 0, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(vl_os_alloc_huge(0, 0, &info, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(vl_os_alloc_huge(100, 3u << 20, &info, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(vl_os_alloc_huge(100, page / 2, &info, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(vl_os_alloc_huge(100, 1, &info, NULL));
    assert_null(vl_os_alloc_huge(SIZE_MAX, 0, &info, &err));
    assert_int_equal(err, -ENOMEM);
    /* Failures leave info alone. */
    assert_int_equal(info.size, 12345);
    assert_int_equal(info.kind, VL_HUGE_THP);
}

/* ---- protection: death tests run in a child ------------------------------ */
#ifdef _WIN32
/* No fork() for death tests: VirtualQuery shows each page's protection. */
static void test_protect(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    unsigned char *p = vl_os_alloc(2 * page, NULL);
    assert_non_null(p);
    p[0] = 42;
    assert_int_equal(vl_os_protect(p, page, VL_PROT_READ), 0);
    assert_int_equal(p[0], 42);
    assert_int_equal(protection_of(p), PAGE_READONLY);
    /* Only the first page changed: the second is still writable. */
    assert_int_equal(protection_of(p + page), PAGE_READWRITE);
    p[page] = 1;
    assert_int_equal(vl_os_protect(p, page, VL_PROT_NONE), 0);
    assert_int_equal(protection_of(p), PAGE_NOACCESS);
    assert_int_equal(vl_os_protect(p, page, VL_PROT_WRITE), 0);
    assert_int_equal(protection_of(p), PAGE_READWRITE); /* W implies R */
    assert_int_equal(vl_os_protect(p, page, VL_PROT_READ | VL_PROT_EXEC), 0);
    assert_int_equal(protection_of(p), PAGE_EXECUTE_READ);
    assert_int_equal(vl_os_protect(p, 2 * page, VL_PROT_READ | VL_PROT_WRITE), 0);
    assert_int_equal(p[0], 42);
    p[0] = 43;
    /* A size that is not a page multiple covers the partial page too. */
    assert_int_equal(vl_os_protect(p, 1, VL_PROT_READ), 0);
    assert_int_equal(protection_of(p), PAGE_READONLY);
    assert_int_equal(protection_of(p + page), PAGE_READWRITE);
    assert_int_equal(vl_os_free(p, 2 * page), 0);
}
#else

static int child_write(void *arg)
{
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    *(volatile unsigned char *)arg = 7;
    return 0;
}

static int child_read(void *arg)
{
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    return *(volatile unsigned char *)arg == 0xff ? 3 : 0;
}

static void test_protect(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    vl_test_child r;
    unsigned char *p = vl_os_alloc(2 * page, NULL);
    assert_non_null(p);
    p[0] = 42;

    assert_int_equal(vl_os_protect(p, page, VL_PROT_READ), 0);
    assert_int_equal(p[0], 42);
    vl_test_in_child(child_write, p, 5000, &r);
    assert_int_equal(r.signo, PROT_FAULT_SIGNAL);
    /* Only the first page changed: the second is still writable. */
    vl_test_in_child(child_write, p + page, 5000, &r);
    assert_true(r.exited && r.exit_code == 0);

    assert_int_equal(vl_os_protect(p, page, VL_PROT_NONE), 0);
    vl_test_in_child(child_read, p, 5000, &r);
    assert_int_equal(r.signo, PROT_FAULT_SIGNAL);

    assert_int_equal(vl_os_protect(p, 2 * page, VL_PROT_READ | VL_PROT_WRITE), 0);
    vl_test_in_child(child_write, p, 5000, &r);
    assert_true(r.exited && r.exit_code == 0);
    assert_int_equal(p[0], 42);
    p[0] = 43;
    /* A size that is not a page multiple covers the partial page too. */
    assert_int_equal(vl_os_protect(p, 1, VL_PROT_READ), 0);
    vl_test_in_child(child_write, p, 5000, &r);
    assert_int_equal(r.signo, PROT_FAULT_SIGNAL);
    assert_int_equal(vl_os_free(p, 2 * page), 0);
}
#endif

static void test_protect_bad(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    unsigned char *p = vl_os_alloc(page, NULL);
    assert_non_null(p);
    assert_int_equal(vl_os_protect(p, page, (vl_mem_prot)8), -EINVAL);
    assert_int_equal(vl_os_protect(p, page, (vl_mem_prot)(VL_PROT_READ | 0x100)), -EINVAL);
    assert_int_equal(vl_os_protect(p, page, (vl_mem_prot)-1), -EINVAL);
    assert_int_equal(vl_os_protect(NULL, page, VL_PROT_READ), -EINVAL);
    assert_int_equal(vl_os_protect(p + 1, page, VL_PROT_READ), -EINVAL);
    assert_int_equal(vl_os_protect(p, 0, VL_PROT_READ), -EINVAL);
    assert_int_equal(vl_os_protect(p, SIZE_MAX, VL_PROT_READ), -EINVAL);
    /* None of that changed the page: still writable. */
    p[0] = 1;
    assert_int_equal(vl_os_free(p, page), 0);
    /* Unmapped memory: the kernel's -ENOMEM, passed through. */
    assert_int_equal(vl_os_protect(p, page, VL_PROT_READ), -ENOMEM);
}

/* ---- advice ------------------------------------------------------------------ */

static void test_advise_dontneed_zeroes(void **state)
{
    (void)state;
    size_t len = 4 * vl_page_size();
    unsigned char *p = vl_os_alloc(len, NULL);
    assert_non_null(p);
    memset(p, 0xab, len);
    assert_int_equal(vl_os_advise(p, len, VL_ADV_DONTNEED), 0);
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            fail_msg("byte %zu is 0x%x after DONTNEED", i, p[i]);
    assert_int_equal(vl_os_free(p, len), 0);
}

static void test_advise_each_value(void **state)
{
    (void)state;
    size_t len = 4 * vl_page_size();
    unsigned char *p = vl_os_alloc(len, NULL);
    assert_non_null(p);
    memset(p, 1, len);
    VL_TEST_SKIP_IF_EMULATED("qemu-user accepts every madvise as a no-op");
    for (int a = 0; a < VL_ADV_COUNT_; a++) {
        int rc = vl_os_advise(p, len, (vl_mem_advice)a);
        if (a == VL_ADV_REMOVE) /* shmem only: the kernel refuses private memory */
            assert_int_equal(rc, -EINVAL);
        else if (a == VL_ADV_HUGEPAGE || a == VL_ADV_NOHUGEPAGE)
            /* -EINVAL only when the kernel is built without THP. */
            assert_true(rc == 0 || rc == -EINVAL);
        else
            assert_int_equal(rc, 0);
    }
#ifdef __linux__
    /* The table maps each value to the right MADV_*: smaps shows the flags. */
    assert_int_equal(vl_os_advise(p, len, VL_ADV_SEQUENTIAL), 0);
    assert_true(has_vmflag(p, "sr"));
    assert_false(has_vmflag(p, "rr"));
    assert_int_equal(vl_os_advise(p, len, VL_ADV_RANDOM), 0);
    assert_true(has_vmflag(p, "rr"));
    assert_false(has_vmflag(p, "sr"));
    assert_int_equal(vl_os_advise(p, len, VL_ADV_NORMAL), 0);
    assert_false(has_vmflag(p, "rr"));
    assert_false(has_vmflag(p, "sr"));
    if (vl_os_advise(p, len, VL_ADV_HUGEPAGE) == 0) {
        assert_true(has_vmflag(p, "hg"));
        assert_int_equal(vl_os_advise(p, len, VL_ADV_NOHUGEPAGE), 0);
        assert_true(has_vmflag(p, "nh"));
        assert_false(has_vmflag(p, "hg"));
    }
#endif
    /* FREE: the contents are either kept or read back as zero. */
    memset(p, 9, len);
    assert_int_equal(vl_os_advise(p, len, VL_ADV_FREE), 0);
    assert_true(p[0] == 9 || p[0] == 0);
    assert_int_equal(vl_os_free(p, len), 0);
}

static void test_advise_remove_shared(void **state)
{
    (void)state;
#ifdef _WIN32
    VL_TEST_SKIP_ON_WINDOWS("shared anonymous memory comes from vl_sys_mmap (Linux only)");
#elif defined(__APPLE__)
    /* macOS has no MADV_REMOVE: shared memory is refused like private. */
    size_t len = 2 * vl_page_size();
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
    assert_true(p != MAP_FAILED);
    p[0] = 0xcd;
    assert_int_equal(vl_os_advise(p, len, VL_ADV_REMOVE), -EINVAL);
    assert_int_equal(p[0], 0xcd);
    assert_int_equal(munmap(p, len), 0);
#else
    size_t len = 2 * vl_page_size();
    VL_TEST_SKIP_IF_EMULATED("qemu-user accepts every madvise as a no-op");
    intptr_t r = vl_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_false(vl_sys_is_error(r));
    unsigned char *p = (unsigned char *)r;
    memset(p, 0xcd, len);
    /* Shared memory takes REMOVE (the pages are punched out of shmem) ... */
    assert_int_equal(vl_os_advise(p, len, VL_ADV_REMOVE), 0);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[len - 1], 0);
    /* ... but not FREE, which is for private anonymous memory only. */
    assert_int_equal(vl_os_advise(p, len, VL_ADV_FREE), -EINVAL);
    assert_int_equal(vl_sys_munmap(p, len), 0);
#endif
}

static void test_advise_dontfork(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    VL_TEST_SKIP_IF_EMULATED("qemu-user accepts every madvise as a no-op");
    unsigned char *p = vl_os_alloc(page, NULL);
    assert_non_null(p);
    p[0] = 0xff;
    assert_int_equal(vl_os_advise(p, page, VL_ADV_DONTFORK), 0);
#ifdef _WIN32
    /* Nothing is ever inherited on Windows: accepted, the page unchanged. */
    assert_int_equal(p[0], 0xff);
    assert_int_equal(vl_os_free(p, page), 0);
#else
#ifdef __linux__
    assert_true(has_vmflag(p, "dc"));
#endif
    /* The child does not inherit the page: touching it faults there. */
    vl_test_child r;
    vl_test_in_child(child_read, p, 5000, &r);
    assert_int_equal(r.signo, SIGSEGV);
    assert_int_equal(vl_os_advise(p, page, VL_ADV_NORMAL), 0);
    assert_int_equal(p[0], 0xff);
    assert_int_equal(vl_os_free(p, page), 0);
#endif
}

static void test_advise_bad(void **state)
{
    (void)state;
    size_t page = vl_page_size();
    unsigned char *p = vl_os_alloc(page, NULL);
    assert_non_null(p);
    assert_int_equal(vl_os_advise(p, page, VL_ADV_COUNT_), -EINVAL);
    assert_int_equal(vl_os_advise(p, page, (vl_mem_advice)-1), -EINVAL);
    assert_int_equal(vl_os_advise(p, page, (vl_mem_advice)1000), -EINVAL);
    assert_int_equal(vl_os_advise(NULL, page, VL_ADV_NORMAL), -EINVAL);
    assert_int_equal(vl_os_advise(p + 8, page, VL_ADV_NORMAL), -EINVAL);
    assert_int_equal(vl_os_advise(p, 0, VL_ADV_NORMAL), -EINVAL);
    assert_int_equal(vl_os_advise(p, SIZE_MAX, VL_ADV_NORMAL), -EINVAL);
    assert_int_equal(vl_os_free(p, page), 0);
    /* Unmapped memory: the kernel's -ENOMEM (qemu-user does not check). */
    if (!vl_test_emulated())
        assert_int_equal(vl_os_advise(p, page, VL_ADV_WILLNEED), -ENOMEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_free),        cmocka_unit_test(test_alloc_bad),
        cmocka_unit_test(test_free_bad),          cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_aligned_trim),      cmocka_unit_test(test_aligned_bad),
        cmocka_unit_test(test_huge_fallback),     cmocka_unit_test(test_huge_hugetlb),
        cmocka_unit_test(test_huge_bad),          cmocka_unit_test(test_protect),
        cmocka_unit_test(test_protect_bad),       cmocka_unit_test(test_advise_dontneed_zeroes),
        cmocka_unit_test(test_advise_each_value), cmocka_unit_test(test_advise_remove_shared),
        cmocka_unit_test(test_advise_dontfork),   cmocka_unit_test(test_advise_bad),
    };
    return cmocka_run_group_tests_name("sys.mem", tests, NULL, NULL);
}
