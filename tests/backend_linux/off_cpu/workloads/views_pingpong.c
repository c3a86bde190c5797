/* For the off-CPU view tests: "ping" writes one byte into a pipe and "pong" reads
 * it, ROUNDS times (argv[1], default 200).  Each round ping first sleeps 2 ms, so pong is parked in read()
 * (pipe_read) when the byte arrives and ping's write() is what wakes it.
 * The syscalls are made through noinline helpers: libc's wrappers keep no frame
 * pointer, so a frame-pointer unwind loses their direct caller, not ping_writer
 * and pong_reader. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static int rounds = 200;

__attribute__((noinline)) static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

__attribute__((noinline)) static long send_byte(void)
{
    char c = 'x';
    return write(fds[1], &c, 1);
}

__attribute__((noinline)) static long receive_byte(void)
{
    char c;
    return read(fds[0], &c, 1);
}

__attribute__((noinline)) void *ping_writer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ping");
    for (int i = 0; i < rounds; i++) {
        pause_ms(2);
        send_byte();
    }
    return NULL;
}

__attribute__((noinline)) void *pong_reader(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "pong");
    for (int i = 0; i < rounds; i++)
        receive_byte();
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t ping, pong;
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (pipe(fds) != 0)
        return 1;
    pthread_create(&pong, NULL, pong_reader, NULL);
    pthread_create(&ping, NULL, ping_writer, NULL);
    pthread_join(ping, NULL);
    pthread_join(pong, NULL);
    return 0;
}
