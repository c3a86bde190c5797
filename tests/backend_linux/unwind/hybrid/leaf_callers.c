/* Callers of frameless libc leaves, on and off the CPU, with shares known by construction.
 *
 * The main thread ("leafmain") runs four phases of equal length:
 *   fill_pages()  -> memset   (on the CPU, PHASE_MS of thread CPU time)
 *   count_len()   -> strlen   (on the CPU, PHASE_MS of thread CPU time)
 *   sleep_wait()  -> nanosleep (off the CPU, ROUNDS x PHASE_MS/ROUNDS)
 *   read_wait()   -> read      (off the CPU: a feeder thread writes the pipe every PHASE_MS/ROUNDS)
 * So each of the first two has half of leafmain's on-CPU samples, and each of the last two
 * half of its blocked time.  Built -O2 -fno-omit-frame-pointer: these callers keep frame
 * pointers, glibc's memset/strlen/nanosleep/read do not.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)
static int phase_ms = 600;
static int rounds = 30;
static char *buf;
static volatile size_t sink;
static int pipe_fd[2];

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

__attribute__((noinline)) void fill_pages(void)
{
    double end = cpu_ms() + phase_ms;
    while (cpu_ms() < end)
        for (int i = 0; i < 8; i++) {
            memset(buf, i, BUF);
            __asm__ volatile("" ::: "memory");
        }
}

__attribute__((noinline)) void count_len(void)
{
    memset(buf, 'x', BUF - 1);
    buf[BUF - 1] = 0;
    double end = cpu_ms() + phase_ms;
    while (cpu_ms() < end)
        for (int i = 0; i < 8; i++) {
            sink += strlen(buf);
            __asm__ volatile("" ::: "memory");
        }
}

__attribute__((noinline)) void sleep_wait(void)
{
    struct timespec t = {0, (long)phase_ms * 1000000L / rounds};
    for (int i = 0; i < rounds; i++)
        nanosleep(&t, NULL);
}

static void *feeder(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "leaffeed");
    struct timespec t = {0, (long)phase_ms * 1000000L / rounds};
    for (int i = 0; i < rounds; i++) {
        clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL);
        if (write(pipe_fd[1], "x", 1) != 1)
            abort();
    }
    return NULL;
}

__attribute__((noinline)) void read_wait(void)
{
    pthread_t thread;
    char c;
    pthread_create(&thread, NULL, feeder, NULL);
    for (int i = 0; i < rounds; i++)
        if (read(pipe_fd[0], &c, 1) != 1)
            abort();
    pthread_join(thread, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        phase_ms = atoi(argv[1]);
    prctl(PR_SET_NAME, "leafmain");
    buf = malloc(BUF);
    if (!buf || pipe(pipe_fd))
        return 1;
    fill_pages();
    count_len();
    sleep_wait();
    read_wait();
    return 0;
}
