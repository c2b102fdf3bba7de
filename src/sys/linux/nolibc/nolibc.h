/*
 * src/sys/linux/nolibc/nolibc.h - what a program linked without libc
 * (-nostdlib -static, VLLSI_NOLIBC) gets from the nolibc start code, and
 * what the start code, the TLS setup and the clone threads share.
 *
 * A nolibc program defines `int main(int argc, char **argv, char **envp)`
 * and links start.c's object: _start reads the initial stack, hands the
 * auxiliary vector to the sys layer, installs the main thread's TLS block,
 * calls main and ends the process with exit_group(main's result).
 */
#ifndef VLLSI_NOLIBC_H
#define VLLSI_NOLIBC_H

#include <stddef.h>
#include <stdint.h>

#define VL__NOLIBC_HIDDEN __attribute__((visibility("hidden")))

/* The program's entry, called by the start code (not by anyone else). */
int main(int argc, char **argv, char **envp);

/* The environment _start found (NULL-terminated), for vl_nolibc_getenv. */
VL__NOLIBC_HIDDEN extern char **vl__nolibc_envp;

/* The value of environment variable `name`, or NULL when it is not set. */
const char *vl_nolibc_getenv(const char *name);

/* ---- TLS (tls_setup.c) ---------------------------------------------------- */

/*
 * Record the executable's PT_TLS segment from its program headers (AT_PHDR,
 * AT_PHNUM). Returns 0, or -ENOEXEC when the headers are missing. A program
 * without PT_TLS is valid: its blocks then hold only the thread control block.
 */
VL__NOLIBC_HIDDEN int vl__nolibc_tls_init(const void *phdr, size_t phnum);

/* Bytes a thread's TLS area needs (TLS image, TCB, alignment slack). */
VL__NOLIBC_HIDDEN size_t vl__nolibc_tls_area_size(void);

/*
 * Lay a fresh TLS block out in `area` (vl__nolibc_tls_area_size() bytes):
 * copy the .tdata image, zero .tbss and the TCB, and return the value the
 * thread pointer must hold (x86-64: the TCB's address, whose first word
 * points at itself; aarch64: the 16-byte TCB just below the TLS data).
 */
VL__NOLIBC_HIDDEN void *vl__nolibc_tls_install(void *area);

/* The stack-protector canary every new TCB gets (x86-64 %fs:0x28), from the
 * kernel's AT_RANDOM bytes; its low byte is 0 so a string overflow that
 * copies up to a NUL cannot reproduce it. */
VL__NOLIBC_HIDDEN extern uintptr_t vl__nolibc_canary;

/* Make tp the calling thread's thread pointer (arch_prctl / TPIDR_EL0). */
VL__NOLIBC_HIDDEN int vl__nolibc_set_thread_pointer(void *tp);

/* The [start, end) of the calling thread's TLS data, for tests. */
void vl_nolibc_tls_range(uintptr_t *start, uintptr_t *end);

/* auxv.c (VLLSI_NOLIBC): the vector found on the initial stack. */
VL__NOLIBC_HIDDEN void vl__auxv_set_vector(const unsigned long *auxv);

/* thread_clone.c: control blocks (stack mappings) alive right now. */
int vl_nolibc_thread_mappings(void);

#endif
