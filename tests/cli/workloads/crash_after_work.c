/* Works on the CPU for about 0.3 s, then dies of the signal named in argv[1]:
 * "segv" dereferences a null pointer (SIGSEGV), "kill" sends itself SIGKILL.
 * For `stax record -- CMD`: stax exits 128+N and its summary names the signal. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void work_before_crash(void) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        for (int i = 0; i < 100000; i++) sink += i;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 300000000L);
}

int main(int argc, char **argv) {
    work_before_crash();
    if (argc > 1 && strcmp(argv[1], "kill") == 0) kill(getpid(), SIGKILL);
    volatile int *null = 0;
    return *null;
}
