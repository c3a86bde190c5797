/* For the off-CPU view tests: sleeps 10 x 100 ms in nap(): 1.0 s of blocked time,
 * reason sleep, woken by a timer.
 *
 * nap() reaches nanosleep through pause_once(): libc's syscall wrappers keep no
 * frame pointer, so a frame-pointer unwind skips the function that calls them
 * directly (its return address is not on the rbp chain).  The helper takes that
 * loss so nap() stays on the recorded stack.
 */
#include <time.h>

__attribute__((noinline)) void pause_once(long ns) {
    struct timespec ts = {0, ns};
    nanosleep(&ts, 0);
    __asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline)) void nap(void) {
    pause_once(100 * 1000 * 1000);
    __asm__ volatile("" ::: "memory");
}

int main(void) {
    for (int i = 0; i < 10; i++) nap();
    return 0;
}
