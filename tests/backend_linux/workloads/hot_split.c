/* hot_a does three times hot_b's work per round, so ~75% of on-CPU samples should
 * land in hot_a and ~25% in hot_b.  Usage: hot_split SECONDS */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

/* Calling out makes the hot functions non-leaf: GCC 12 sets up no frame pointer in a
 * leaf function even with -fno-omit-frame-pointer, and the kernel's frame-pointer walk
 * would then skip the caller's frame. */
__attribute__((noinline)) static void publish(unsigned long x) { sink = x; }


__attribute__((noinline)) void hot_a(void) {
    unsigned long x = sink;
    for (unsigned long i = 0; i < 3000000UL; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    publish(x);
}

__attribute__((noinline)) void hot_b(void) {
    unsigned long x = sink;
    for (unsigned long i = 0; i < 1000000UL; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    publish(x);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    double end = now() + seconds;
    while (now() < end) {
        hot_a();
        hot_b();
    }
    return 0;
}
