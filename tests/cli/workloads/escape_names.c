/* Names that are terminal escape sequences, as a hostile program would choose them.
 *
 * The process renames itself (prctl PR_SET_NAME) to ESC]0;pwned BEL ESC[2J (retitle the
 * terminal, clear the screen); its waker thread is named ESC[31mwaker.  The main thread
 * blocks on a pipe the waker writes every 2 ms, then runs a loop from an anonymous
 * executable mapping that its perf map (/tmp/perf-PID.map, written by this process)
 * names ESC]0;jit BEL ESC[2Jjitted.  Usage: escape_names SECONDS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int fds[2];

static void *waker(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "\x1b[31mwaker");
    for (;;) {
        usleep(2000);
        if (write(fds[1], "x", 1) != 1)
            return NULL;
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.5;
    /* mov ecx, 0x100000; 1: dec ecx; jnz 1b; ret */
    static const unsigned char loop[] = {0xb9, 0x00, 0x00, 0x10, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xc3};
    void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    memcpy(code, loop, sizeof loop);
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", getpid());
    FILE *map = fopen(path, "w");
    if (!map)
        return 1;
    fprintf(map, "%lx %zx \x1b]0;jit\x07\x1b[2Jjitted\n", (unsigned long)code, sizeof loop);
    fclose(map);

    prctl(PR_SET_NAME, "\x1b]0;pwned\x07\x1b[2J", 0, 0, 0);
    if (pipe(fds) != 0)
        return 1;
    pthread_t thread;
    pthread_create(&thread, NULL, waker, NULL);
    char byte;
    double end = now() + seconds;
    while (now() < end) {
        if (read(fds[0], &byte, 1) != 1)
            return 1;
        ((void (*)(void))code)();
    }
    return 0;
}
