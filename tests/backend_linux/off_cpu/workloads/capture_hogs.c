/* Two CPU-bound threads pinned to CPU 0 for argv[1] seconds (default 1): they only
 * lose the CPU to each other by preemption, never by blocking. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

static double seconds = 1.0;
static volatile unsigned long sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) unsigned long crunch(unsigned long x)
{
    for (int i = 0; i < 10000; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    return x;
}

__attribute__((noinline)) void *hog(void *arg)
{
    unsigned long x = (unsigned long)arg;
    pthread_setname_np(pthread_self(), "hog");
    double end = now() + seconds;
    while (now() < end)
        x = crunch(x);
    sink = x;
    return NULL;
}

int main(int argc, char **argv)
{
    cpu_set_t one;
    pthread_t t[2];
    if (argc > 1)
        seconds = atof(argv[1]);
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (sched_setaffinity(0, sizeof one, &one)) /* threads inherit it */
        return 1;
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hog, (void *)(i + 1));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}
