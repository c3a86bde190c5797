/* Two named threads doing a 2:1 split of the same work: "worker-big" runs twice as
 * many rounds as "worker-small", so it should get ~2/3 of the samples.
 * Usage: two_threads ROUNDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

static volatile unsigned long sink;

/* Calling out makes the hot functions non-leaf: GCC 12 sets up no frame pointer in a
 * leaf function even with -fno-omit-frame-pointer, and the kernel's frame-pointer walk
 * would then skip the caller's frame. */
__attribute__((noinline)) static void publish(unsigned long x) { sink = x; }

__attribute__((noinline)) static void work(unsigned long rounds) {
    unsigned long x = sink;
    for (unsigned long r = 0; r < rounds; r++)
        for (unsigned long i = 0; i < 1000000UL; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
    publish(x);
}

static void *big(void *arg) {
    pthread_setname_np(pthread_self(), "worker-big");
    work(2 * (unsigned long)arg);
    return NULL;
}

static void *small(void *arg) {
    pthread_setname_np(pthread_self(), "worker-small");
    work((unsigned long)arg);
    return NULL;
}

int main(int argc, char **argv) {
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
    pthread_t a, b;
    pthread_create(&a, NULL, big, (void *)rounds);
    pthread_create(&b, NULL, small, (void *)rounds);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
