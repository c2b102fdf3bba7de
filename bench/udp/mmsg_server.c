/*
 * mmsg_server - the UDP echo benchmark's hand-written peer (bench/udp): one
 * thread, one non-blocking socket, epoll, and batches of up to 64 datagrams
 * taken with one recvmmsg and sent back with one sendmmsg, each from the
 * buffer it arrived in to the address it came from. The socket is read
 * until a recvmmsg returns a short batch (it was empty then) before the
 * thread sleeps in epoll_pwait again.
 *
 *   mmsg_server [--port P] [--bind ADDR] [--corrupt-after N]
 *
 * --corrupt-after N flips one byte of every datagram after the first N
 * echoed: scripts/ci/bench.sh checks that udp_load notices.
 *
 * A datagram longer than a buffer (64 KiB, more than UDP carries) cannot
 * arrive. When sendmmsg takes only part of a batch (the socket's send
 * buffer is full), the thread waits in poll until the socket is writable
 * and sends the rest: nothing is dropped on the server's side. SIGINT or
 * SIGTERM (only delivered inside epoll_pwait) ends the loop; the thread
 * prints what it echoed and exits 0.
 */
#include "udp_common.h" /* first: it defines _GNU_SOURCE */

#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>

#define BATCH     64
#define DGRAM_MAX 65536

static unsigned char g_buf[BATCH][DGRAM_MAX];
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Send msgs[0..n) (their msg_len as sent); 0, or -errno. */
static int send_all(int fd, struct mmsghdr *msgs, unsigned n)
{
    unsigned done = 0;
    while (done < n) {
        int k = sendmmsg(fd, msgs + done, n - done, 0);
        if (k > 0) {
            done += (unsigned)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return -errno;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct udp_opts o;
    struct sockaddr_storage ss;
    if (udp_parse(argc, argv, true, &o) < 0)
        return 2;
    int fd = udp_bind(&o, SOCK_NONBLOCK, &ss);
    if (fd < 0) {
        fprintf(stderr, "mmsg_server: bind %s port %d: %s\n", o.bind, o.port, strerror(-fd));
        return 1;
    }
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("mmsg_server: epoll");
        return 1;
    }
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
    static struct sockaddr_storage addr[BATCH];
    udp_announce("mmsg_server", &o, &ss);

    unsigned long long datagrams = 0, bytes = 0, wakeups = 0;
    int rc = 0;
    while (!g_stop) {
        int n = epoll_pwait(ep, &ev, 1, -1, &wait_mask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("mmsg_server: epoll_pwait");
            rc = 1;
            break;
        }
        wakeups++;
        for (;;) {
            for (unsigned i = 0; i < BATCH; i++) {
                iov[i] = (struct iovec){g_buf[i], DGRAM_MAX};
                msgs[i].msg_hdr = (struct msghdr){.msg_name = &addr[i],
                                                  .msg_namelen = sizeof addr[i],
                                                  .msg_iov = &iov[i],
                                                  .msg_iovlen = 1};
            }
            int k = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (k < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                perror("mmsg_server: recvmmsg");
                rc = 1;
                g_stop = 1;
                break;
            }
            for (int i = 0; i < k; i++) {
                iov[i].iov_len = msgs[i].msg_len;
                bytes += msgs[i].msg_len;
                if (o.corrupt_after >= 0 &&
                    datagrams + (unsigned)i >= (unsigned long long)o.corrupt_after &&
                    msgs[i].msg_len > 0)
                    g_buf[i][msgs[i].msg_len - 1] ^= 0x5a;
            }
            datagrams += (unsigned)k;
            int e = send_all(fd, msgs, (unsigned)k);
            if (e < 0) {
                fprintf(stderr, "mmsg_server: sendmmsg: %s\n", strerror(-e));
                rc = 1;
                g_stop = 1;
                break;
            }
            if (k < BATCH)
                break;
        }
    }
    printf("mmsg_server: %llu datagrams, %llu bytes, %llu wake-ups\n", datagrams, bytes, wakeups);
    close(ep);
    close(fd);
    return rc;
}
