/*
 * vllsi/sys/bits.h - the seed's hardware-control layer: bitfields, memory-mapped
 * I/O and memory barriers.
 *
 * Everything on a hot path is static inline here so a register access compiles
 * to the access itself; only the bounds-checked region accessors and
 * vl_barrier() live in src/sys/bits.c.
 *
 * Bitfield convention: a field is described by its in-place mask (the bits it
 * occupies in the raw word, already shifted) and the shift of its lowest bit.
 * A 4-bit field at bit 8 has mask 0xF00 and shift 8; VL_BITFIELD_MASK(4, 8)
 * builds that mask.
 */
#ifndef VLLSI_SYS_BITS_H
#define VLLSI_SYS_BITS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vllsi/sys/common.h>
#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

/* ---- bitfields ----------------------------------------------------------- */

/*
 * vl_extract_bits - the field selected by `mask` in `raw`, shifted down to bit
 * 0: (raw & mask) >> shift. A shift of 64 or more (which C leaves undefined)
 * returns 0, because no bit of a 64-bit word can live there.
 */
static inline uint64_t vl_extract_bits(uint64_t raw, uint64_t mask, unsigned shift)
{
    if (VL_UNLIKELY(shift >= 64))
        return 0;
    return (raw & mask) >> shift;
}

/*
 * vl_insert_bits - `raw` with the field selected by `mask` replaced by `value`:
 * (raw & ~mask) | ((value << shift) & mask). Bits of `value` that do not fit
 * the field are dropped, and bits of `raw` outside `mask` are kept. A shift of
 * 64 or more returns `raw` unchanged (nothing can be inserted there).
 */
static inline uint64_t vl_insert_bits(uint64_t raw, uint64_t value, uint64_t mask, unsigned shift)
{
    if (VL_UNLIKELY(shift >= 64))
        return raw;
    return (raw & ~mask) | ((value << shift) & mask);
}

/*
 * Typed variants (the seed's BitfieldElement implementations). Extraction
 * truncates the field to the result type (a 12-bit field read as uint8_t keeps
 * its low 8 bits); the bool form is true when any bit of the field is set.
 * Insertion takes the value in the element type and behaves like
 * vl_insert_bits (a bool inserts 1 or 0).
 */
static inline uint8_t vl_extract_bits_u8(uint64_t raw, uint64_t mask, unsigned shift)
{
    return (uint8_t)vl_extract_bits(raw, mask, shift);
}
static inline uint16_t vl_extract_bits_u16(uint64_t raw, uint64_t mask, unsigned shift)
{
    return (uint16_t)vl_extract_bits(raw, mask, shift);
}
static inline uint32_t vl_extract_bits_u32(uint64_t raw, uint64_t mask, unsigned shift)
{
    return (uint32_t)vl_extract_bits(raw, mask, shift);
}
static inline uint64_t vl_extract_bits_u64(uint64_t raw, uint64_t mask, unsigned shift)
{
    return vl_extract_bits(raw, mask, shift);
}
static inline bool vl_extract_bits_bool(uint64_t raw, uint64_t mask, unsigned shift)
{
    return vl_extract_bits(raw, mask, shift) != 0;
}

static inline uint64_t vl_insert_bits_u8(uint64_t raw, uint8_t value, uint64_t mask, unsigned shift)
{
    return vl_insert_bits(raw, value, mask, shift);
}
static inline uint64_t vl_insert_bits_u16(uint64_t raw, uint16_t value, uint64_t mask,
                                          unsigned shift)
{
    return vl_insert_bits(raw, value, mask, shift);
}
static inline uint64_t vl_insert_bits_u32(uint64_t raw, uint32_t value, uint64_t mask,
                                          unsigned shift)
{
    return vl_insert_bits(raw, value, mask, shift);
}
static inline uint64_t vl_insert_bits_u64(uint64_t raw, uint64_t value, uint64_t mask,
                                          unsigned shift)
{
    return vl_insert_bits(raw, value, mask, shift);
}
static inline uint64_t vl_insert_bits_bool(uint64_t raw, bool value, uint64_t mask, unsigned shift)
{
    return vl_insert_bits(raw, value ? 1u : 0u, mask, shift);
}

#ifndef __cplusplus
/* clang-format off */
/*
 * vl_extract_bits_as(T, raw, mask, shift) - the seed's extract_bits<T>: picks
 * the typed variant for T (uint8_t, uint16_t, uint32_t, uint64_t or bool).
 * vl_insert_bits_as(raw, value, mask, shift) picks by the type of `value`;
 * cast the value when it is a plain int constant.
 */
#define vl_extract_bits_as(T, raw, mask, shift)                                                    \
    _Generic((T)0,                                                                                 \
        uint8_t: vl_extract_bits_u8,                                                               \
        uint16_t: vl_extract_bits_u16,                                                             \
        uint32_t: vl_extract_bits_u32,                                                             \
        uint64_t: vl_extract_bits_u64,                                                             \
        bool: vl_extract_bits_bool)(raw, mask, shift)
#define vl_insert_bits_as(raw, value, mask, shift)                                                 \
    _Generic((value),                                                                              \
        uint8_t: vl_insert_bits_u8,                                                                \
        uint16_t: vl_insert_bits_u16,                                                              \
        uint32_t: vl_insert_bits_u32,                                                              \
        uint64_t: vl_insert_bits_u64,                                                              \
        bool: vl_insert_bits_bool)(raw, value, mask, shift)
/* clang-format on */
#endif

/*
 * VL_BITFIELD_MASK(width, shift) - the in-place mask of a `width`-bit field
 * whose lowest bit is `shift`, as an integer constant expression (usable in
 * static initialisers). Width 64 with shift 0 gives all ones without the
 * undefined 64-bit shift. A field that cannot exist - width 0, width above 64,
 * or width + shift beyond 64 - gives mask 0, which every accessor treats as
 * an empty field. The arguments are evaluated more than once; use
 * vl_bitfield_mask() for expressions with side effects.
 */
#define VL_BITFIELD_MASK(width, shift)                                                \
    ((uint64_t)((((unsigned long long)(width)) - 1u >= 64u ||                         \
                 ((unsigned long long)(shift)) > 64u - ((unsigned long long)(width))) \
                    ? 0u                                                              \
                    : ((~0ull >> ((64u - (unsigned long long)(width)) & 63u))         \
                       << ((unsigned long long)(shift)&63u))))

/* vl_bitfield_mask - VL_BITFIELD_MASK as a function (each argument read once). */
static inline uint64_t vl_bitfield_mask(unsigned width, unsigned shift)
{
    return VL_BITFIELD_MASK(width, shift);
}

/*
 * The seed's Bitfield<W>: a raw register image and the mask of one field in
 * it. The shift is implied by the mask (its lowest set bit).
 */
typedef struct vl_bitfield {
    uint64_t raw;
    uint64_t mask;
} vl_bitfield;

/* VL_BITFIELD(width, shift) - a vl_bitfield with raw 0 for that field. */
#define VL_BITFIELD(width, shift) ((vl_bitfield){0u, VL_BITFIELD_MASK(width, shift)})

/* vl_bitfield_get - the field's value, shifted down; 0 for an empty mask. */
static inline uint64_t vl_bitfield_get(vl_bitfield bf)
{
    if (bf.mask == 0)
        return 0;
    return vl_extract_bits(bf.raw, bf.mask, (unsigned)__builtin_ctzll(bf.mask));
}

/*
 * vl_bitfield_set - store `value` into the field of bf->raw, leaving the other
 * bits alone. Returns 0, -EINVAL for a NULL bf or an empty mask, or -ERANGE
 * when `value` has bits the field cannot hold (bf is then left unchanged, so a
 * value is never silently truncated).
 */
static inline int vl_bitfield_set(vl_bitfield *bf, uint64_t value)
{
    if (bf == NULL || bf->mask == 0)
        return -EINVAL;
    unsigned shift = (unsigned)__builtin_ctzll(bf->mask);
    if (value & ~(bf->mask >> shift))
        return -ERANGE;
    bf->raw = vl_insert_bits(bf->raw, value, bf->mask, shift);
    return 0;
}

/* ---- memory-mapped I/O --------------------------------------------------- */

/*
 * vl_volatile_load8..64 / vl_volatile_store8..64 - one volatile access of
 * exactly that width, which the compiler may neither merge, split, repeat nor
 * drop. They order nothing against other memory accesses (use the register
 * modes or the barriers below for that). Like any dereference, `addr` must be
 * valid and naturally aligned; these are the unchecked primitives.
 */
static inline uint8_t vl_volatile_load8(const volatile void *addr)
{
    return *(const volatile uint8_t *)addr;
}
static inline uint16_t vl_volatile_load16(const volatile void *addr)
{
    return *(const volatile uint16_t *)addr;
}
static inline uint32_t vl_volatile_load32(const volatile void *addr)
{
    return *(const volatile uint32_t *)addr;
}
static inline uint64_t vl_volatile_load64(const volatile void *addr)
{
    return *(const volatile uint64_t *)addr;
}
static inline void vl_volatile_store8(volatile void *addr, uint8_t v)
{
    *(volatile uint8_t *)addr = v;
}
static inline void vl_volatile_store16(volatile void *addr, uint16_t v)
{
    *(volatile uint16_t *)addr = v;
}
static inline void vl_volatile_store32(volatile void *addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}
static inline void vl_volatile_store64(volatile void *addr, uint64_t v)
{
    *(volatile uint64_t *)addr = v;
}

/*
 * How a register access is ordered (the seed's AccessMode):
 *   VL_ACCESS_VOLATILE  one plain volatile access; the compiler keeps it, the
 *                       CPU may reorder it against other memory accesses.
 *   VL_ACCESS_SYNC      a full (sequentially consistent) fence before and after
 *                       the access, so it is ordered against every memory
 *                       access around it - what device registers with side
 *                       effects (doorbells, status-then-data) need.
 *   VL_ACCESS_RELAXED   an __atomic relaxed access: single-copy atomic (no torn
 *                       value when another thread or agent writes concurrently)
 *                       but unordered.
 */
typedef enum vl_access_mode {
    VL_ACCESS_VOLATILE = 0,
    VL_ACCESS_SYNC,
    VL_ACCESS_RELAXED,
} vl_access_mode;

/* A 32- or 64-bit register: its address and how it is accessed. The caller
 * owns the mapping behind `addr`; the register only points into it. */
typedef struct vl_reg32 {
    volatile uint32_t *addr;
    vl_access_mode mode;
} vl_reg32;

typedef struct vl_reg64 {
    volatile uint64_t *addr;
    vl_access_mode mode;
} vl_reg64;

/*
 * vl_reg32_read / vl_reg32_write / vl_reg64_read / vl_reg64_write - one access
 * to the register with its mode's ordering. Return 0, or -EINVAL (nothing
 * accessed) for a NULL register, address or `out`, an address not naturally
 * aligned, or an unknown mode.
 *
 * vl_reg32_modify / vl_reg64_modify - read, replace the field (mask, shift) with
 * `value` as vl_insert_bits does, and write back. The read and the write each
 * have the mode's ordering, but the pair is not atomic: another writer between
 * them is lost (device registers normally have a single owner). Same errors.
 */
#define VL__REG_DEFINE(W)                                                                        \
    static inline int vl__reg##W##_ok(const vl_reg##W *reg)                                      \
    {                                                                                            \
        return reg != NULL && reg->addr != NULL &&                                               \
               ((uintptr_t)reg->addr & (sizeof(uint##W##_t) - 1)) == 0 &&                        \
               (unsigned)reg->mode <= (unsigned)VL_ACCESS_RELAXED;                               \
    }                                                                                            \
    static inline uint##W##_t vl__reg##W##_load(const vl_reg##W *reg)                            \
    {                                                                                            \
        uint##W##_t v;                                                                           \
        switch (reg->mode) {                                                                     \
        case VL_ACCESS_SYNC:                                                                     \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                             \
            v = *reg->addr;                                                                      \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                             \
            return v;                                                                            \
        case VL_ACCESS_RELAXED:                                                                  \
            return __atomic_load_n(reg->addr, __ATOMIC_RELAXED);                                 \
        default:                                                                                 \
            return *reg->addr;                                                                   \
        }                                                                                        \
    }                                                                                            \
    static inline void vl__reg##W##_store(const vl_reg##W *reg, uint##W##_t v)                   \
    {                                                                                            \
        switch (reg->mode) {                                                                     \
        case VL_ACCESS_SYNC:                                                                     \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                             \
            *reg->addr = v;                                                                      \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                             \
            break;                                                                               \
        case VL_ACCESS_RELAXED:                                                                  \
            __atomic_store_n(reg->addr, v, __ATOMIC_RELAXED);                                    \
            break;                                                                               \
        default:                                                                                 \
            *reg->addr = v;                                                                      \
            break;                                                                               \
        }                                                                                        \
    }                                                                                            \
    static inline int vl_reg##W##_read(const vl_reg##W *reg, uint##W##_t *out)                   \
    {                                                                                            \
        if (!vl__reg##W##_ok(reg) || out == NULL)                                                \
            return -EINVAL;                                                                      \
        *out = vl__reg##W##_load(reg);                                                           \
        return 0;                                                                                \
    }                                                                                            \
    static inline int vl_reg##W##_write(const vl_reg##W *reg, uint##W##_t value)                 \
    {                                                                                            \
        if (!vl__reg##W##_ok(reg))                                                               \
            return -EINVAL;                                                                      \
        vl__reg##W##_store(reg, value);                                                          \
        return 0;                                                                                \
    }                                                                                            \
    static inline int vl_reg##W##_modify(const vl_reg##W *reg, uint##W##_t mask, unsigned shift, \
                                         uint##W##_t value)                                      \
    {                                                                                            \
        if (!vl__reg##W##_ok(reg))                                                               \
            return -EINVAL;                                                                      \
        uint##W##_t old = vl__reg##W##_load(reg);                                                \
        vl__reg##W##_store(reg, (uint##W##_t)vl_insert_bits(old, value, mask, shift));           \
        return 0;                                                                                \
    }

VL__REG_DEFINE(32)
VL__REG_DEFINE(64)
#undef VL__REG_DEFINE

/*
 * The seed's MemoryRegion: `length` bytes at `base`, owned by the caller (an
 * mmap of a device, a shared buffer). `cacheable` false marks device memory:
 * its accessors then order each access with a full fence on both sides, like
 * VL_ACCESS_SYNC; cacheable memory gets a plain volatile access.
 */
typedef struct vl_memory_region {
    void *base;
    size_t length;
    bool cacheable;
} vl_memory_region;

/*
 * vl_region_read32/64, vl_region_write32/64 - a bounds-checked access at byte
 * `offset` into the region. Return 0, or:
 *   -EINVAL  NULL region, NULL base or NULL `out`;
 *   -ERANGE  offset + access width beyond `length` (computed without overflow,
 *            so offsets near SIZE_MAX are caught too);
 *   -EINVAL  base + offset not naturally aligned for the width (checked after
 *            the range, so an out-of-range offset always reports -ERANGE).
 * Nothing is accessed on failure.
 */
VL_API int vl_region_read32(const vl_memory_region *r, size_t offset, uint32_t *out);
VL_API int vl_region_read64(const vl_memory_region *r, size_t offset, uint64_t *out);
VL_API int vl_region_write32(const vl_memory_region *r, size_t offset, uint32_t value);
VL_API int vl_region_write64(const vl_memory_region *r, size_t offset, uint64_t value);

/* ---- barriers ------------------------------------------------------------ */

/*
 * vl_barrier - a thread fence of the given order (the seed's barrier()):
 * RELAXED is no fence at all, ACQUIRE/RELEASE/ACQ_REL/SEQ_CST are
 * __atomic_thread_fence of that order. Returns 0. An unknown order still gets
 * the strongest (SEQ_CST) fence - a caller that asked for ordering gets at
 * least what it asked for - and returns -EINVAL.
 */
VL_API int vl_barrier(vl_memory_order order);

/* vl_compiler_barrier - stops the compiler from moving memory accesses across
 * this point; emits no instruction and orders nothing on the CPU. */
static inline void vl_compiler_barrier(void)
{
    __asm__ __volatile__("" ::: "memory");
}

/*
 * vl_dmb - data memory barrier: every memory access before it is observed
 * before every one after it. aarch64: `dmb ish` (inner shareable: all CPUs
 * running this OS). x86-64: `mfence`, the only x86 fence that also orders
 * earlier stores against later loads (x86 keeps every other order already).
 */
static inline void vl_dmb(void)
{
#if defined(__aarch64__)
    __asm__ __volatile__("dmb ish" ::: "memory");
#elif defined(__x86_64__)
    __asm__ __volatile__("mfence" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/*
 * vl_dsb - data synchronisation barrier: no instruction after it executes
 * until every memory access before it has completed (not merely become
 * ordered), which device programming needs before e.g. a WFI or a cache
 * maintenance sequence. aarch64: `dsb sy` (full system, so device accesses
 * outside the inner shareable domain are covered). x86-64: `mfence`, which
 * waits until all earlier loads and stores are globally visible - the closest
 * x86 has, since it has no weaker "ordered but not complete" fence to upgrade.
 */
static inline void vl_dsb(void)
{
#if defined(__aarch64__)
    __asm__ __volatile__("dsb sy" ::: "memory");
#elif defined(__x86_64__)
    __asm__ __volatile__("mfence" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/*
 * vl_isb - instruction synchronisation barrier: the pipeline is flushed, so
 * instructions after it are fetched anew and see every earlier context change
 * (new code written to memory, changed system registers). aarch64: `isb`.
 * x86-64: `cpuid` with eax = 0, an architecturally serialising instruction;
 * `lfence` is not enough, because it only orders instruction *execution* and
 * does not discard instructions already fetched. cpuid is slow (and traps to
 * the hypervisor in a VM), which is acceptable for this rare operation.
 */
static inline void vl_isb(void)
{
#if defined(__aarch64__)
    __asm__ __volatile__("isb" ::: "memory");
#elif defined(__x86_64__)
    uint32_t a = 0, b, c = 0, d;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
    (void)a;
    (void)b;
    (void)c;
    (void)d;
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

VL_EXTERN_C_END

#endif /* VLLSI_SYS_BITS_H */
