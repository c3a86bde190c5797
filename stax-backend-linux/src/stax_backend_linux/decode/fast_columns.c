/* Row work on whole columns: fast_columns.h says what and why. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

#include "fast_columns.h"

size_t stax_gather(const int64_t *table, size_t ntable, const int64_t *index, size_t n, int64_t *out,
                   int64_t *missing)
{
    size_t misses = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t at = (uint64_t)index[i];
        int64_t v = at < ntable ? table[at] : -1;
        if (v < 0) {
            v = -1;
            missing[misses++] = index[i];
        }
        out[i] = v;
    }
    return misses;
}

static inline uint64_t mix3(int64_t a, int64_t b, int64_t c)
{
    uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ULL;
    h = (h ^ (h >> 29) ^ (uint64_t)b) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 31) ^ (uint64_t)c) * 0x94D049BB133111EBULL;
    return h ^ (h >> 32);
}

int64_t stax_group3(const int64_t *a, const int64_t *b, const int64_t *c, const int64_t *weight, size_t n,
                    int64_t *ga, int64_t *gb, int64_t *gc, int64_t *count, int64_t *wsum)
{
    /* open addressing over group numbers + 1 (0: empty), at most half full */
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slots = calloc(cap, sizeof(uint32_t));
    if (!slots)
        return -1;
    size_t groups = 0, mask = cap - 1;
    /* consecutive rows often repeat a group: check the last one first */
    size_t last = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        int64_t x = a[i], y = b[i], z = c[i];
        size_t g;
        if (last != (size_t)-1 && ga[last] == x && gb[last] == y && gc[last] == z) {
            g = last;
        } else {
            size_t j = (size_t)mix3(x, y, z) & mask;
            for (;;) {
                uint32_t at = slots[j];
                if (!at) {
                    g = groups++;
                    slots[j] = (uint32_t)(g + 1);
                    ga[g] = x;
                    gb[g] = y;
                    gc[g] = z;
                    count[g] = 0;
                    wsum[g] = 0;
                    break;
                }
                g = at - 1;
                if (ga[g] == x && gb[g] == y && gc[g] == z)
                    break;
                j = (j + 1) & mask;
            }
            last = g;
        }
        count[g]++;
        wsum[g] += weight[i];
    }
    free(slots);
    return (int64_t)groups;
}
