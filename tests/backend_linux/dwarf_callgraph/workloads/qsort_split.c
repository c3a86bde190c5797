/* The 3:1 workload for DWARF unwinding, built -O2 -fomit-frame-pointer: the time is spent
 * in qsort comparators called back from libc's qsort internals (no frame pointers there
 * either), so only CFI can walk from a comparator back to main.
 *
 *   main -> driver -> qsort -> (msort_with_tmp ...) -> compare_a / compare_b
 *
 * compare_a mixes each key 3x as many rounds as compare_b, and both sort the same number
 * of elements per round, so ~75% of the comparator samples land in compare_a.
 * Usage: qsort_split SECONDS [ROUNDS]  (with ROUNDS: exactly that much work, for CPU comparisons) */
#include <stdlib.h>
#include <time.h>

#define COUNT 4096
#define ROUNDS_B 24

static unsigned keys[COUNT];
static volatile unsigned long sink;

static inline unsigned mix(unsigned x, int rounds) {
    for (int i = 0; i < rounds; i++)
        x = (x ^ (x >> 15)) * 0x2c1b3c6dU + (unsigned)i;
    return x;
}

__attribute__((noinline)) int compare_a(const void *l, const void *r) {
    unsigned x = mix(*(const unsigned *)l, 3 * ROUNDS_B), y = mix(*(const unsigned *)r, 3 * ROUNDS_B);
    return (x > y) - (x < y);
}

__attribute__((noinline)) int compare_b(const void *l, const void *r) {
    unsigned x = mix(*(const unsigned *)l, ROUNDS_B), y = mix(*(const unsigned *)r, ROUNDS_B);
    return (x > y) - (x < y);
}

__attribute__((noinline)) void driver(int (*compare)(const void *, const void *), unsigned seed) {
    for (int i = 0; i < COUNT; i++)
        keys[i] = seed = seed * 1103515245u + 12345u;
    qsort(keys, COUNT, sizeof keys[0], compare);
    sink += keys[0];  /* keeps the qsort call from being a tail call */
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double end = now() + (argc > 1 ? atof(argv[1]) : 1.0);
    long rounds = argc > 2 ? atol(argv[2]) : -1;
    unsigned seed = 1;
    while (rounds > 0 ? rounds-- > 0 : rounds < 0 && now() < end) {
        driver(compare_a, seed++);
        driver(compare_b, seed++);
    }
    return 0;
}
