/*
 * <vllsi/sys.h> - the whole sys layer (link vllsi::sys or `pkg-config
 * vllsi-sys`). Each module's header documents its functions; see docs/sys.md
 * for an overview.
 */
#ifndef VLLSI_SYS_H
#define VLLSI_SYS_H

#include <vllsi/sys/export.h>
#include <vllsi/sys/common.h>
#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>
#include <vllsi/sys/tls.h>
#include <vllsi/sys/ctx.h>
#include <vllsi/sys/sync.h>
#include <vllsi/sys/time.h>
#include <vllsi/sys/init.h>
#include <vllsi/sys/bits.h>
#include <vllsi/sys/irq.h>
#include <vllsi/sys/embedded.h>
#if defined(__linux__)
#include <vllsi/sys/linux.h>
#elif defined(_WIN32)
#include <vllsi/sys/windows.h>
#elif defined(__APPLE__)
#include <vllsi/sys/darwin.h>
#endif

#endif /* VLLSI_SYS_H */
