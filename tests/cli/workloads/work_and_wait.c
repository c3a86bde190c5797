/* Two threads that compute and wait for each other: "server" answers each request of
 * "client" through a pipe after ~0.5 ms of work, the client computes ~0.5 ms between
 * requests.  Both run on and off the CPU about half the time each, so a default recording
 * holds samples, off-CPU spans ended by a wakeup, and the wakeups (~2k of each a second).
 * Usage: work_and_wait SECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static int to_server[2], to_client[2];

__attribute__((noinline)) static void publish(unsigned long x) { sink = x; }

__attribute__((noinline)) static void compute(void) {
    unsigned long x = sink;
    for (unsigned long i = 0; i < 400000UL; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    publish(x);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *server(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "server");
    char c;
    while (read(to_server[0], &c, 1) == 1 && c == 'q') {
        compute();
        if (write(to_client[1], &c, 1) != 1)
            break;
    }
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (pipe(to_server) || pipe(to_client))
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, server, NULL);
    pthread_setname_np(pthread_self(), "client");
    double end = now() + seconds;
    char c = 'q';
    while (now() < end) {
        compute();
        if (write(to_server[1], &c, 1) != 1 || read(to_client[0], &c, 1) != 1)
            return 1;
    }
    c = 'x';
    if (write(to_server[1], &c, 1) != 1)
        return 1;
    pthread_join(t, NULL);
    return 0;
}
