/* A thread named "faulter" waits for a byte on stdin, then touches argv[1] fresh pages
 * (default 20000): that many page faults, all in that one thread, while the main thread
 * only waits.  For `stax record -t TID -e page-faults` against `perf record -t TID`. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static long pages = 20000;

static void *faulter(void *arg) {
    (void)arg;
    char go;
    if (read(0, &go, 1) != 1)
        return NULL;
    long size = sysconf(_SC_PAGESIZE);
    volatile char *p = malloc(pages * size);
    for (long i = 0; i < pages; i++)
        p[i * size] = 1;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        pages = atol(argv[1]);
    pthread_t t;
    pthread_create(&t, NULL, faulter, NULL);
    pthread_setname_np(t, "faulter");
    pthread_join(t, NULL);
    return 0;
}
