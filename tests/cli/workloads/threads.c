/* Two named worker threads; worker-a does twice the work of worker-b. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void work(unsigned long n) {
    unsigned long x = 0;
    for (unsigned long i = 0; i < n; i++)
        x = x * 6364136223846793005UL + i;
    sink += x;
}

static void *worker(void *arg) {
    unsigned long units = (unsigned long)arg;
    pthread_setname_np(pthread_self(), units == 2 ? "worker-a" : "worker-b");
    for (unsigned long u = 0; u < units * 300; u++)
        work(1000000);
    return NULL;
}

int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, worker, (void *)2UL);
    pthread_create(&b, NULL, worker, (void *)1UL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
