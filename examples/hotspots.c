/* The stax example workload: hot_a does three times the work of hot_b.
 *
 * Build with frame pointers so in-kernel frame-pointer unwinding sees every caller:
 *   gcc -O1 -g -fno-omit-frame-pointer -o hotspots examples/hotspots.c
 * Run:  ./hotspots [SECONDS]   (default 2)
 *       ./hotspots -n ROUNDS   (a fixed amount of work, for benchmarks)
 * A profile should show hot_a at ~75% and hot_b at ~25%, both under driver under main.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;

/* hot_a and hot_b call this, so they are not leaf functions: gcc then gives them a
 * frame pointer and the in-kernel unwinder sees their caller, driver. */
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
    for (unsigned long i = 0; i < n; i++)
        x = x * 6364136223846793005UL + i;
    keep(x);
}

__attribute__((noinline)) void driver(unsigned long n) {
    hot_a(n);
    hot_b(n);
    sink++; /* keeps hot_b from being a tail call, so driver stays on the stack */
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        unsigned long n = strtoul(argv[2], NULL, 10);
        for (unsigned long r = 0; r < n; r++)
            driver(200000);
        printf("hotspots: %lu rounds\n", n);
        return 0;
    }
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    double end = now() + seconds;
    unsigned long rounds = 0;
    while (now() < end) {
        driver(200000);
        rounds++;
    }
    printf("hotspots: %lu rounds in %.1f s\n", rounds, seconds);
    return 0;
}
