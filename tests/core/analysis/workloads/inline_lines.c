/* For the source-line and inline views: mix() is always inlined into outer(), so its
 * samples carry an inlined frame; the loop body of mix() is lines 9-12. */
#include <stdlib.h>
#include <time.h>

static inline __attribute__((always_inline)) unsigned long mix(unsigned long x) {
    volatile unsigned long h = x;
    for (int i = 0; i < 64; i++) {
        h = h * 0x9E3779B97F4A7C15UL;
        h ^= h >> 29;
        h += i;
        h ^= h << 7;
    }
    return h;
}

__attribute__((noinline)) unsigned long outer(unsigned long n) {
    unsigned long s = 0;
    for (unsigned long i = 0; i < n; i++) s += mix(i);
    return s;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    clock_t end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
    unsigned long acc = 0;
    while (clock() < end) acc += outer(20000);
    return acc == 1;
}
