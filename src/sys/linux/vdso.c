/*
 * The vDSO clock: clock_gettime without entering the kernel.
 *
 * The kernel maps a small ELF shared object (the vDSO) into every process
 * and passes its address as AT_SYSINFO_EHDR in the auxiliary vector. Its
 * clock_gettime reads the kernel's timekeeping page from user space. We look
 * the symbol up once, by name and symbol version, the way a dynamic linker
 * would (after musl's src/internal/vdso.c), and cache the function pointer.
 *
 * The cache is one word: 0 = not resolved yet, 1 = no vDSO (use the system
 * call), anything else = the function. Resolution is idempotent, so threads
 * racing through it only repeat the same work and store the same value;
 * relaxed atomics suffice because the pointer refers to code the kernel
 * mapped before the process started, not to data we publish.
 */
#include <elf.h>
#include <linux/time.h>

#include "internal.h"
#include "linux/sys.h"
#include <vllsi/sys/time.h>

#if defined(__x86_64__)
#define VDSO_CGT_NAME    "__vdso_clock_gettime"
#define VDSO_CGT_VERSION "LINUX_2.6"
#elif defined(__aarch64__)
#define VDSO_CGT_NAME    "__kernel_clock_gettime"
#define VDSO_CGT_VERSION "LINUX_2.6.39"
#endif

#define VDSO_UNRESOLVED ((uintptr_t)0)
#define VDSO_NONE       ((uintptr_t)1)

/* The kernel's timespec on 64-bit Linux has vl_timespec's layout. */
typedef int (*vdso_cgt_fn)(int clk, vl_timespec *ts);

static uintptr_t vdso_cgt;

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* DT_GNU_HASH has no symbol count: it is one past the highest symbol index
 * reachable from a bucket, found by walking that bucket's chain to its end
 * (the entry with bit 0 set). */
static size_t gnu_hash_count(const uint32_t *gh)
{
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_words = gh[2];
    const uint32_t *buckets = gh + 4 + bloom_words * (sizeof(Elf64_Addr) / 4);
    size_t n = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (buckets[i] > n)
            n = buckets[i];
    if (n == 0)
        return 0;
    const uint32_t *chain = buckets + nbuckets + (n - symoffset);
    do
        n++;
    while (!(*chain++ & 1));
    return n;
}

/* Does version index `ndx` name `want`? VER_FLG_BASE entries name the object
 * itself, not a version, and never match. */
static int version_matches(const Elf64_Verdef *def, Elf64_Versym ndx, const char *want,
                           const char *strings)
{
    ndx &= 0x7fff; /* bit 15 marks a hidden symbol, not part of the index */
    for (;;) {
        if (!(def->vd_flags & VER_FLG_BASE) && (def->vd_ndx & 0x7fff) == ndx)
            break;
        if (def->vd_next == 0)
            return 0;
        def = (const Elf64_Verdef *)((const char *)def + def->vd_next);
    }
    const Elf64_Verdaux *aux = (const Elf64_Verdaux *)((const char *)def + def->vd_aux);
    return str_eq(want, strings + aux->vda_name);
}

struct vdso_image {
    uintptr_t base; /* load bias: runtime address = base + p_vaddr */
    const char *strings;
    const Elf64_Sym *syms;
    const uint32_t *hash;
    const uint32_t *gnu_hash;
    const Elf64_Versym *versym;
    const Elf64_Verdef *verdef;
};

static int vdso_load(uintptr_t addr, struct vdso_image *img)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)addr;
    if (eh->e_ident[EI_MAG0] != ELFMAG0 || eh->e_ident[EI_MAG1] != ELFMAG1 ||
        eh->e_ident[EI_MAG2] != ELFMAG2 || eh->e_ident[EI_MAG3] != ELFMAG3 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr))
        return -ENOEXEC;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(addr + eh->e_phoff);
    const Elf64_Dyn *dyn = NULL;
    int have_load = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !have_load) {
            img->base = addr + ph[i].p_offset - ph[i].p_vaddr;
            have_load = 1;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const Elf64_Dyn *)(addr + ph[i].p_offset);
        }
    }
    if (!dyn || !have_load)
        return -ENOEXEC;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        const void *p = (const void *)(img->base + dyn->d_un.d_ptr);
        switch (dyn->d_tag) {
        case DT_STRTAB:
            img->strings = p;
            break;
        case DT_SYMTAB:
            img->syms = p;
            break;
        case DT_HASH:
            img->hash = p;
            break;
        case DT_GNU_HASH:
            img->gnu_hash = p;
            break;
        case DT_VERSYM:
            img->versym = p;
            break;
        case DT_VERDEF:
            img->verdef = p;
            break;
        default:
            break;
        }
    }
    if (!img->strings || !img->syms || (!img->hash && !img->gnu_hash))
        return -ENOEXEC;
    if (!img->verdef)
        img->versym = NULL; /* symbol versions are meaningless without definitions */
    return 0;
}

static void *vdso_lookup(const struct vdso_image *img, const char *name, const char *version)
{
    /* DT_HASH's second word is the symbol count (nchain). */
    size_t nsym = img->hash ? img->hash[1] : gnu_hash_count(img->gnu_hash);
    for (size_t i = 0; i < nsym; i++) {
        const Elf64_Sym *s = &img->syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);
        if (type != STT_FUNC && type != STT_NOTYPE)
            continue;
        if (bind != STB_GLOBAL && bind != STB_WEAK)
            continue;
        if (s->st_shndx == SHN_UNDEF || !str_eq(name, img->strings + s->st_name))
            continue;
        if (img->versym && !version_matches(img->verdef, img->versym[i], version, img->strings))
            continue;
        return (void *)(img->base + s->st_value);
    }
    return NULL;
}

static uintptr_t vdso_resolve(void)
{
    unsigned long addr = 0;
    if (vl__auxv_get(AT_SYSINFO_EHDR, &addr) < 0 || addr == 0)
        return VDSO_NONE;
    struct vdso_image img = {0};
    if (vdso_load((uintptr_t)addr, &img) < 0)
        return VDSO_NONE;
    void *fn = vdso_lookup(&img, VDSO_CGT_NAME, VDSO_CGT_VERSION);
    return fn ? (uintptr_t)fn : VDSO_NONE;
}

static uintptr_t vdso_get(void)
{
    uintptr_t v = __atomic_load_n(&vdso_cgt, __ATOMIC_RELAXED);
    if (VL_UNLIKELY(v == VDSO_UNRESOLVED)) {
        v = vdso_resolve();
        __atomic_store_n(&vdso_cgt, v, __ATOMIC_RELAXED);
    }
    return v;
}

void vl__time_init(int no_vdso)
{
    __atomic_store_n(&vdso_cgt, no_vdso ? VDSO_NONE : vdso_resolve(), __ATOMIC_RELAXED);
}

int vl_sys_clock_gettime(int clk_id, vl_timespec *ts)
{
    /* Checked here because the vDSO would fault on NULL rather than report. */
    if (!ts)
        return -EFAULT;
    uintptr_t v = vdso_get();
    /* The vDSO falls back to the system call itself for clocks it cannot
     * serve (unknown ids included) and returns the kernel's -errno. */
    if (v != VDSO_NONE)
        return ((vdso_cgt_fn)v)(clk_id, ts);
    return vl__sys_clock_gettime(clk_id, ts);
}

const char *vl_time_source(void)
{
    return vdso_get() == VDSO_NONE ? "syscall" : "vdso";
}
