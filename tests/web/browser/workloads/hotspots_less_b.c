/* examples/hotspots.c with hot_b doing a third of its work (hot_a:hot_b = 9:1 instead of 3:1):
 * the base recording of the web UI's diff test, so hot_b grows from base to current.
 * Same function names and the same executable name (the test builds it as "hotspots"), so
 * the diff matches the frames of both recordings.
 * Run: ./hotspots [SECONDS] */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) void keep(unsigned long x) {
    sink += x;
}

__attribute__((noinline)) void hot_a(unsigned long n) {
    unsigned long x = 0;
    for (unsigned long i = 0; i < 3 * n; i++)
        x = x * 6364136223846793005UL + i;
    keep(x);
}

__attribute__((noinline)) void hot_b(unsigned long n) {
    unsigned long x = 0;
    for (unsigned long i = 0; i < n / 3; i++)
        x = x * 6364136223846793005UL + i;
    keep(x);
}

__attribute__((noinline)) void driver(unsigned long n) {
    hot_a(n);
    hot_b(n);
    sink++;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double end = now() + (argc > 1 ? atof(argv[1]) : 2.0);
    while (now() < end)
        driver(200000);
    return 0;
}
