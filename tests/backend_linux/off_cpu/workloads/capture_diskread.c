/* Reads the file argv[1] start to end in 1 MiB read()s (in read_file), for the
 * disk-io test: run it after dropping the page cache. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char buf[1 << 20];

__attribute__((noinline)) long read_chunk(int fd)
{
    return read(fd, buf, sizeof buf);
}

__attribute__((noinline)) long read_file(const char *path)
{
    long total = 0, n;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        exit(1);
    while ((n = read_chunk(fd)) > 0)
        total += n;
    close(fd);
    return total;
}

int main(int argc, char **argv)
{
    return argc > 1 && read_file(argv[1]) > 0 ? 0 : 1;
}
