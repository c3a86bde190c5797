/* A stand-in for a set-user-id-root program that holds a secret: it reads the file argv[1]
 * (readable by root only, in the tests) into a buffer on its stack, then spins for argv[2]
 * milliseconds (default 400) in a function called with that buffer, so any sample taken of
 * it carries this program's code addresses and any DWARF user-stack copy carries the secret.
 * The tests build it without PIE, so its code lies at a fixed range they can recognize. */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((noinline)) void spin_with(const char *secret, double ms)
{
    double end = now_ms() + ms;
    unsigned long x = 1;
    while (now_ms() < end) {
        for (int i = 0; i < 4096; i++)
            x = x * 6364136223846793005UL + (unsigned char)secret[i & 31];
        sink = x;
    }
}

int main(int argc, char **argv)
{
    char secret[256] = {0};
    if (argc > 1) {
        int fd = open(argv[1], O_RDONLY);
        if (fd >= 0) {
            if (read(fd, secret, sizeof secret - 1) < 0)
                secret[0] = 0;
            close(fd);
        }
    }
    spin_with(secret, argc > 2 ? atof(argv[2]) : 400.0);
    return secret[0] ? 0 : 3;
}
