/* Spends most of its time in the kernel: getppid + a write to /dev/null, in a loop.
 * Usage: syscall_loop SECONDS */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    int fd = open("/dev/null", O_WRONLY);
    char buf[4096] = {0};
    double end = now() + seconds;
    while (now() < end) {
        for (int i = 0; i < 1000; i++) {
            (void)getppid();
            if (write(fd, buf, sizeof buf) < 0)
                return 1;
        }
    }
    return 0;
}
