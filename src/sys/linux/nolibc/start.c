/*
 * src/sys/linux/nolibc/start.c - the process entry point of a program linked
 * without libc (-nostdlib -static).
 *
 * The kernel enters _start with the stack pointer at the initial stack:
 *
 *   sp -> argc
 *         argv[0] ... argv[argc - 1], NULL
 *         envp[0] ... NULL
 *         auxv: (type, value) pairs ... (AT_NULL, 0)
 *
 * and with no thread pointer set. _start (per architecture, below) clears the
 * frame pointer so debuggers see the end of the call chain, aligns the stack
 * to 16 bytes as the C ABI requires at a call, and passes the original sp to
 * vl__nolibc_start_c, which never returns.
 */
#include <linux/auxvec.h>
#include <linux/mman.h>

#include "linux/nolibc/nolibc.h"
#include "linux/sys.h"

char **vl__nolibc_envp;

/* Weak, so the no_runtime library, which has no auxv.c, links without it. */
__attribute__((weak)) void vl__auxv_set_vector(const unsigned long *auxv);

VL__NOLIBC_HIDDEN __attribute__((noreturn, used)) void vl__nolibc_start_c(long *sp);

#if defined(__x86_64__)
__asm__(".text\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call vl__nolibc_start_c\n"
        "    hlt\n"
        ".size _start, . - _start\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".global _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "    mov x29, #0\n"
        "    mov x30, #0\n"
        "    mov x0, sp\n"
        "    and x1, x0, #-16\n"
        "    mov sp, x1\n"
        "    bl vl__nolibc_start_c\n"
        "    brk #0\n"
        ".size _start, . - _start\n");
#endif

static void die(const char *msg, size_t len)
{
    (void)vl__sys_write(2, msg, len);
    vl__sys_exit_group(127);
}

/* The main thread's TLS comes straight from mmap: nothing else exists yet. */
static void setup_main_tls(const unsigned long *auxv)
{
    unsigned long phdr = 0, phnum = 0;
    for (const unsigned long *v = auxv; v[0] != AT_NULL; v += 2) {
        if (v[0] == AT_PHDR)
            phdr = v[1];
        else if (v[0] == AT_PHNUM)
            phnum = v[1];
        else if (v[0] == AT_RANDOM && v[1] != 0)
            vl__nolibc_canary = *(const uintptr_t *)v[1] & ~(uintptr_t)0xff;
    }
    static const char no_phdr[] = "nolibc start: no AT_PHDR in the auxiliary vector\n";
    static const char no_mem[] = "nolibc start: cannot map the main thread's TLS\n";
    if (vl__nolibc_tls_init((const void *)phdr, phnum) < 0)
        die(no_phdr, sizeof(no_phdr) - 1);
    intptr_t m = vl__sys_mmap(NULL, vl__nolibc_tls_area_size(), PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vl_sys_is_error(m))
        die(no_mem, sizeof(no_mem) - 1);
    if (vl__nolibc_set_thread_pointer(vl__nolibc_tls_install((void *)m)) < 0)
        die(no_mem, sizeof(no_mem) - 1);
}

void vl__nolibc_start_c(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    char **e = envp;
    while (*e != NULL)
        e++;
    const unsigned long *auxv = (const unsigned long *)(e + 1);
    vl__nolibc_envp = envp;
    /* Weak: a no_runtime library has no auxv code (and needs none). */
    if (vl__auxv_set_vector != NULL)
        vl__auxv_set_vector(auxv);
    setup_main_tls(auxv);
    vl__sys_exit_group(main(argc, argv, envp));
    __builtin_unreachable();
}

const char *vl_nolibc_getenv(const char *name)
{
    if (name == NULL || vl__nolibc_envp == NULL)
        return NULL;
    for (char **e = vl__nolibc_envp; *e != NULL; e++) {
        const char *n = name, *v = *e;
        while (*n != '\0' && *n == *v) {
            n++;
            v++;
        }
        if (*n == '\0' && *v == '=')
            return v + 1;
    }
    return NULL;
}
