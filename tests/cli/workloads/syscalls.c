/* Syscall-heavy: most time is in the kernel, entered from do_syscalls(). */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) static void do_syscalls(int fd, double seconds) {
    char buf[4096] = {0};
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 1000; i++) {
            write(fd, buf, sizeof buf);
            getppid();
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

int main(int argc, char **argv) {
    int fd = open("/dev/null", O_WRONLY);
    do_syscalls(fd, argc > 1 ? atof(argv[1]) : 1.0);
    return 0;
}
