/* The main thread blocks reading a pipe; a second thread spins a little, reads 16 MiB of
 * /dev/zero (the copy to user space runs in the kernel) and writes one byte to the pipe,
 * ROUNDS times (argv[1], default 200).  So the main thread is woken ROUNDS times by a
 * thread of the same process (a sched_waking whose wakee existed when recording started),
 * and a good part of the CPU time is kernel time: kernel frames and wakeups both show. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int fds[2];
static long rounds = 200;
static volatile unsigned long sink;

__attribute__((noinline)) void spin(long n)
{
    unsigned long x = (unsigned long)n;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005UL + 1;
    sink = x;
}

__attribute__((noinline)) void *writer(void *arg)
{
    (void)arg;
    static char block[1 << 20];
    int zero = open("/dev/zero", O_RDONLY);
    if (zero < 0)
        abort();
    for (long i = 0; i < rounds; i++) {
        spin(1500000);
        for (int j = 0; j < 16; j++)
            if (read(zero, block, sizeof block) != (ssize_t)sizeof block)
                abort();
        if (write(fds[1], "x", 1) != 1)
            abort();
    }
    close(zero);
    return NULL;
}

__attribute__((noinline)) void wait_for_bytes(void)
{
    char c;
    for (long i = 0; i < rounds; i++)
        if (read(fds[0], &c, 1) != 1)
            abort();
}

int main(int argc, char **argv)
{
    pthread_t t;
    if (argc > 1)
        rounds = atol(argv[1]);
    if (pipe(fds) != 0 || pthread_create(&t, NULL, writer, NULL) != 0)
        return 1;
    wait_for_bytes();
    pthread_join(t, NULL);
    return 0;
}
