/* Three threads spin for 1, 2 and 3 units of work (argv[1] iterations per unit, default
 * 20 million), each then sleeping 1 ms so it is switched out at least once; main waits for
 * them and does one unit itself.  Each thread's task-clock (and cycles, with a PMU) is
 * therefore in the ratio 1:2:3 and main's is one unit: the per-thread split is checkable. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static long unit = 20000000;
static volatile unsigned long sink;

__attribute__((noinline)) void spin(long n)
{
    unsigned long x = (unsigned long)n;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005UL + 1;
    sink = x;
}

static void *worker(void *arg)
{
    spin(unit * (long)arg);
    usleep(1000);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[3];
    if (argc > 1)
        unit = atol(argv[1]);
    for (long i = 0; i < 3; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)) != 0)
            return 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    spin(unit);
    return 0;
}
