/* Two threads that compute and wait for each other: "server" answers each request of
 * "client" through a pipe after ~16 ms of work, the client computes ~16 ms between
 * requests.  Each runs about half the time and blocks on the other the rest, so a default
 * recording holds samples, off-CPU spans ended by a wakeup, and the wakeups (~30 of each a
 * second: one span a thread per round).
 * Usage: work_and_wait ROUNDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static volatile unsigned long sink;
static int to_server[2], to_client[2];

__attribute__((noinline)) static void publish(unsigned long x) { sink = x; }

__attribute__((noinline)) static void compute(void) {
    unsigned long x = sink;
    for (unsigned long i = 0; i < 16000000UL; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    publish(x);
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
    long rounds = argc > 1 ? atol(argv[1]) : 100;
    if (pipe(to_server) || pipe(to_client))
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, server, NULL);
    pthread_setname_np(pthread_self(), "client");
    char c = 'q';
    for (long r = 0; r < rounds; r++) {
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
