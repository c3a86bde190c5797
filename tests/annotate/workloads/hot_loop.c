/* The annotate workload: a known hot loop, an inlined helper, and a call site that blocks.
 *
 *   hot_loop   - nearly all CPU time, in the inner loop over data[] (lines marked LOOP);
 *   nap_once   - sleeps through a raw `syscall` instruction (no libc wrapper, whose missing
 *                frame pointer would hide the caller), so blocked time lands on it;
 *   nap_loop   - calls nap_once, so its blocked time lands on that call.
 *
 * Usage: hot_loop ROUNDS NAPS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/syscall.h>

#define N 4096
static double data[N];

static inline double scale(double x, long r) { return x * (double)(r & 7) + 0.5; } /* LOOP */

__attribute__((noinline)) double hot_loop(long rounds) {
    double acc = 0;
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < N; i++)     /* LOOP */
            acc += scale(data[i], r);   /* LOOP */
    return acc;
}

__attribute__((noinline)) long nap_once(long ns) {
    struct timespec ts = {0, ns};
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_nanosleep), "D"(&ts), "S"(0L)
                     : "rcx", "r11", "memory");
    return ret;
}

__attribute__((noinline)) long nap_loop(int naps) {
    long failed = 0;
    for (int i = 0; i < naps; i++)
        failed += nap_once(5 * 1000 * 1000) != 0;
    return failed;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 100000;
    int naps = argc > 2 ? atoi(argv[2]) : 20;
    for (int i = 0; i < N; i++) data[i] = rand() % 100;
    printf("%f %ld\n", hot_loop(rounds), nap_loop(naps));
    return 0;
}
