/* Sleeps 10 x 100 ms in nap(): 1.000 s off the CPU, reason sleep (the off-CPU capture tests).
 * nap() is not a leaf (it calls go_to_sleep()), so its frame pointer puts it on the
 * stack at switch-out: libc's nanosleep keeps no frame, so a frame-pointer unwind
 * loses the function that calls it directly, here go_to_sleep(). */
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) void go_to_sleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    __asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline)) void nap(long ms)
{
    go_to_sleep(ms);
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    int naps = argc > 1 ? atoi(argv[1]) : 10;
    for (int i = 0; i < naps; i++)
        nap(100);
    return 0;
}
