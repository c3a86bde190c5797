/* Burns CPU in one function until killed or SECONDS pass; used for -p and -a.
 * Usage: spinner SECONDS */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

/* Calling out makes the hot functions non-leaf: GCC 12 sets up no frame pointer in a
 * leaf function even with -fno-omit-frame-pointer, and the kernel's frame-pointer walk
 * would then skip the caller's frame. */
__attribute__((noinline)) static void publish(unsigned long x) { sink = x; }

__attribute__((noinline)) void spin_here(void) {
    unsigned long x = sink;
    for (unsigned long i = 0; i < 100000UL; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    publish(x);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double end = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
    for (;;) {
        spin_here();
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (ts.tv_sec + ts.tv_nsec / 1e9 >= end)
            return 0;
    }
}
