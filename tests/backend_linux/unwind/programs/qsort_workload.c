/* A qsort-heavy workload for `perf record --call-graph dwarf`: the hot code is libc's merge
 * sort (no frame pointers) calling back into compare_ints.  Argument: rounds. */
#include <stdlib.h>

__attribute__((noinline)) int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) long driver_qsort(int n, int rounds) {
    int *values = malloc(n * sizeof *values);
    long check = 0;
    unsigned seed = 12345;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) values[i] = (int)((seed = seed * 1103515245u + 12345u) >> 8);
        qsort(values, n, sizeof *values, compare_ints);
        check += values[0];
    }
    free(values);
    return check;
}

int main(int argc, char **argv) { return (int)driver_qsort(20000, argc > 1 ? atoi(argv[1]) : 100) & 1; }
