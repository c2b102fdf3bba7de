/*
 * <vllsi/op_kinds.h> - the list of op kinds, as an X-macro.
 *
 * VL_OP_KINDS(X) calls X(NAME, name) once per kind, in the order of their
 * values in enum vl_op_kind (<vllsi/engine.h>, which builds the enum from
 * it): X(NOP, nop) is VL_OP_NOP, 0. The values are part of the ABI within a
 * soname (libvllsi-engine.so.<major>.<minor> while the major version is 0),
 * so within one the list only grows at its end. NAME makes the enumerator VL_OP_<NAME>; name
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

/*
 * A kind is a body shape and a system call; a mode that keeps the body is
 * a flag of the op (VL_OP_F_*), not a kind. So multishot RECV and ACCEPT
 * are RECV and ACCEPT with VL_OP_F_MULTISHOT, while SENDV, a SEND gathering
 * several buffers, is a kind: its body is a gather list and its call
 * sendmsg (as READV and WRITEV will be).
 */
#define VL_OP_KINDS(X)      \
    X(NOP, nop)             \
    X(READ, read)           \
    X(WRITE, write)         \
    X(ACCEPT, accept)       \
    X(CONNECT, connect)     \
    X(SEND, send)           \
    X(RECV, recv)           \
    X(TIMEOUT, timeout)     \
    X(CLOSE, close)         \
    X(CANCEL, cancel)       \
    X(SENDV, sendv)         \
    X(SHUTDOWN, shutdown)   \
    X(POLL, poll)           \
    X(SOCKET, socket)       \
    X(BIND, bind)           \
    X(LISTEN, listen)       \
    X(OPENAT, openat)       \
    X(STATX, statx)         \
    X(FTRUNCATE, ftruncate) \
    X(UNLINKAT, unlinkat)   \
    X(RENAMEAT, renameat)   \
    X(MKDIRAT, mkdirat)     \
    X(READV, readv)         \
    X(WRITEV, writev)       \
    X(FSYNC, fsync)         \
    X(SENDMSG, sendmsg)     \
    X(RECVMSG, recvmsg)     \
    X(WAITPID, waitpid)     \
    X(SENDFILE, sendfile)   \
    X(SPLICE, splice)

#endif
