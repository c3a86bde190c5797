/* Sleeps argv[1] times (default 2000) for 100 us: one voluntary context switch each.
 * For `stax record -e context-switches` / `-e sched:sched_switch` against `perf record`. */
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    struct timespec pause = {0, 100000};
    for (int i = 0; i < n; i++)
        nanosleep(&pause, 0);
    return 0;
}
