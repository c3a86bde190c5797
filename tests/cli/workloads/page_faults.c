/* Touches argv[1] fresh pages (default 20000) once each: that many page faults, give or take
 * the loader's, on every run.  For `stax record -e page-faults` against `perf record`. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long pages = argc > 1 ? atol(argv[1]) : 20000;
    long size = sysconf(_SC_PAGESIZE);
    volatile char *p = malloc(pages * size);
    for (long i = 0; i < pages; i++)
        p[i * size] = 1;
    return p[size] - 1;
}
