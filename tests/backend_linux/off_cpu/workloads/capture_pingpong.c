/* Two threads pass a byte back and forth over two pipes, ROUNDS round trips (argv[1],
 * default 200; the bench uses many more, and argv[2] iterations of busy work per round
 * to set the switch rate).  "pong" blocks in read() on pipe a until
 * "ping" writes to it from ping_writer(), so every pong wait is pipe-ipc and is ended
 * by a wakeup from ping_writer().  The syscalls go through noinline helpers so that
 * ping_writer/pong_reader stay on frame-pointer stacks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int a[2], b[2];
static long rounds = 200;
static long work = 0;
static volatile unsigned long sink;

__attribute__((noinline)) void busy_work(long n)
{
    unsigned long x = (unsigned long)n;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005UL + 1;
    sink = x;
}

__attribute__((noinline)) void send_token(int fd)
{
    char c = 'x';
    if (write(fd, &c, 1) != 1)
        abort();
}

__attribute__((noinline)) void wait_token(int fd)
{
    char c;
    if (read(fd, &c, 1) != 1)
        abort();
}

__attribute__((noinline)) void *pong_reader(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "pong");
    for (long i = 0; i < rounds; i++) {
        wait_token(a[0]);
        send_token(b[1]);
    }
    return NULL;
}

__attribute__((noinline)) void *ping_writer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ping");
    for (long i = 0; i < rounds; i++) {
        busy_work(work);
        send_token(a[1]);
        wait_token(b[0]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t ping, pong;
    if (argc > 1)
        rounds = atol(argv[1]);
    if (argc > 2)
        work = atol(argv[2]);
    if (pipe(a) || pipe(b))
        return 1;
    pthread_create(&pong, NULL, pong_reader, NULL);
    usleep(20000); /* let pong block first */
    pthread_create(&ping, NULL, ping_writer, NULL);
    pthread_join(ping, NULL);
    pthread_join(pong, NULL);
    return 0;
}
