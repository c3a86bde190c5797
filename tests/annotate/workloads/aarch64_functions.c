/* aarch64 functions for the annotate tests, built freestanding (no aarch64 libc needed):
 *   helper      - a leaf;
 *   sum_squares - a loop that calls helper and inlines square (an inline boundary);
 *   mix         - a branch and floating point;
 *   _start      - calls them, so every function is reached by a `bl`.
 */
static inline int square(int x) { return x * x; }

__attribute__((noinline)) int helper(int v) { return v * 3 + 1; }

__attribute__((noinline)) long sum_squares(const int *v, int n) {
    long s = 0;
    for (int i = 0; i < n; i++)
        s += square(v[i]) + helper(v[i]);
    return s;
}

__attribute__((noinline)) double mix(double a, int b) {
    if (b > 10)
        return a / b;
    return a * 2.5 + b;
}

static int values[64];

void _start(void) {
    for (int i = 0; i < 64; i++)
        values[i] = i * 7;
    volatile long r = sum_squares(values, 64) + (long)mix(1.0, 3);
    (void)r;
    for (;;)
        ;
}
