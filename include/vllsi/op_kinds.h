/*
 * <vllsi/op_kinds.h> - the list of op kinds, as an X-macro.
 *
 * VL_OP_KINDS(X) calls X(NAME, name) once per kind, in the order of their
 * values in enum vl_op_kind (<vllsi/engine.h>, which builds the enum from
 * it): X(NOP, nop) is VL_OP_NOP, 0. The values are part of the ABI, so the
 * list only grows at its end. NAME makes the enumerator VL_OP_<NAME>; name
 * is the kind in lower case, the name of its constructor vl_op_<name> where
 * one exists. A program can expand the list for its own tables, e.g. the
 * kinds' names:
 *
 *     #define NAME_OF(N, n) #n,
 *     static const char *const names[] = {VL_OP_KINDS(NAME_OF)};
 *
 * Included by <vllsi/engine.h>; needs nothing else.
 */
#ifndef VLLSI_OP_KINDS_H
#define VLLSI_OP_KINDS_H

/* RECV_MULTI: multishot RECV into buffers from a vl_bufpool.
 * ACCEPT_MULTI: multishot ACCEPT.
 * SENDV: SEND gathering several buffers (sendmsg). */
#define VL_OP_KINDS(X)            \
    X(NOP, nop)                   \
    X(READ, read)                 \
    X(WRITE, write)               \
    X(ACCEPT, accept)             \
    X(CONNECT, connect)           \
    X(SEND, send)                 \
    X(RECV, recv)                 \
    X(TIMEOUT, timeout)           \
    X(CLOSE, close)               \
    X(CANCEL, cancel)             \
    X(RECV_MULTI, recv_multi)     \
    X(ACCEPT_MULTI, accept_multi) \
    X(SENDV, sendv)

#endif
