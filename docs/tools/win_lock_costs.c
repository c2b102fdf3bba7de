/*
 * docs/tools/win_lock_costs.c - vl_mutex (WaitOnAddress) against Windows'
 * SRWLOCK and CRITICAL_SECTION: an uncontended lock/unlock pair, and two
 * threads incrementing one counter under the lock. For docs/windows.md.
 *
 *   x86_64-w64-mingw32-gcc-posix -O2 -Iinclude docs/tools/win_lock_costs.c \
 *       -o win_lock_costs.exe build-win/libvllsi-sys.a -lsynchronization -lntdll -static
 *   WINEDEBUG=-all wine64 win_lock_costs.exe
 */
#include <windows.h>

#include <stdio.h>

#include <vllsi/sys/sync.h>
#include <vllsi/sys/thread.h>
#include <vllsi/sys/time.h>

enum { N = 2000000 };

static vl_mutex m = VL_MUTEX_INIT;
static SRWLOCK srw = SRWLOCK_INIT;
static CRITICAL_SECTION cs;
static volatile long counter;
static int which;

static void work(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        if (which == 0) {
            vl_mutex_lock(&m);
            counter++;
            vl_mutex_unlock(&m);
        } else if (which == 1) {
            AcquireSRWLockExclusive(&srw);
            counter++;
            ReleaseSRWLockExclusive(&srw);
        } else {
            EnterCriticalSection(&cs);
            counter++;
            LeaveCriticalSection(&cs);
        }
    }
}

int main(void)
{
    static const char *const names[] = {"vl_mutex (WaitOnAddress)", "SRWLOCK", "CRITICAL_SECTION"};
    InitializeCriticalSection(&cs);
    for (which = 0; which < 3; which++) {
        int64_t t0 = vl_time_monotonic_ns();
        work(NULL);
        int64_t t1 = vl_time_monotonic_ns();
        counter = 0;
        vl_thread *a, *b;
        if (vl_thread_spawn(work, NULL, 0, &a) != 0 || vl_thread_spawn(work, NULL, 0, &b) != 0)
            return 1;
        vl_thread_join(a);
        vl_thread_join(b);
        int64_t t2 = vl_time_monotonic_ns();
        printf("%-26s uncontended %5.1f ns/pair   2 threads %5.1f ns/op (counter %ld)\n",
               names[which], (double)(t1 - t0) / N, (double)(t2 - t1) / (2.0 * N), counter);
    }
    return counter == 2L * N ? 0 : 1;
}
