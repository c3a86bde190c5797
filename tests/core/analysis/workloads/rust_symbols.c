/* Two functions named as rustc names them, so the demangler sees real Rust symbols on a
 * host without rustc: one legacy (_ZN...17h<hash>E) and one v0 (_R...) name, given with
 * asm labels.  Each burns CPU for half the run. */
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) long legacy_spin(long n) __asm__("_ZN7mycrate6legacy4spin17h0123456789abcdefE");
__attribute__((noinline)) long v0_spin(long n) __asm__("_RNvNtCs15kBYyAo9fc_7mycrate2v04spin");

long legacy_spin(long n) {
    volatile long s = 0;
    for (long i = 0; i < n; i++) s = s + i;
    return s;
}

long v0_spin(long n) {
    volatile long s = 0;
    for (long i = 0; i < n; i++) s = s + i;
    return s;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    clock_t end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
    long acc = 0;
    while (clock() < end) acc += legacy_spin(20000) + v0_spin(20000);
    return acc == 1;
}
