/* Two hot functions whose shares of the CPU are given on the command line:
 *     ./shares A B SECONDS   hot_a does A units of work per round, hot_b does B units
 * so "3 1" gives hot_a ~75% and hot_b ~25%, and "1 1" gives each ~50%: two recordings
 * whose difference is known (hot_b grew) for the web UI's diff tests.  Built like
 * examples/hotspots.c: the loops are in hot_a and hot_b themselves, which call keep()
 * so that gcc gives them a frame pointer and their caller (driver) is on every stack. */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) void keep(unsigned long x) {
    sink += x;
}

__attribute__((noinline)) void hot_a(unsigned long units) {
    unsigned long x = 0;
    for (unsigned long i = 0; i < units * 20000; i++)
        x = x * 6364136223846793005UL + i;
    keep(x);
}

__attribute__((noinline)) void hot_b(unsigned long units) {
    unsigned long x = 0;
    for (unsigned long i = 0; i < units * 20000; i++)
        x = x * 6364136223846793005UL + i;
    keep(x);
}

__attribute__((noinline)) void driver(unsigned long a, unsigned long b) {
    hot_a(a);
    hot_b(b);
    sink++; /* keeps hot_b from being a tail call */
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    unsigned long a = argc > 1 ? strtoul(argv[1], NULL, 10) : 3;
    unsigned long b = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    double end = now() + seconds;
    while (now() < end)
        driver(a, b);
    return 0;
}
