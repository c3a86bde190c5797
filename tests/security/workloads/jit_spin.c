/* A tiny JIT for the perf-map and jitdump tests: copies a counting loop into anonymous
   executable memory (as a JIT runtime does) and runs it until killed.  Once the code is
   in place it prints "PID CODE_ADDRESS CODE_SIZE" (hex address and size) on one line. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const unsigned char CODE[] = {
    0xb9, 0x00, 0x00, 0x00, 0x01, /* mov ecx, 0x1000000 */
    0xff, 0xc9,                   /* loop: dec ecx       */
    0x75, 0xfc,                   /* jnz loop            */
    0xc3,                         /* ret                 */
};

int main(void) {
    unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return 1;
    memcpy(page, CODE, sizeof CODE);
    if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0)
        return 1;
    void (*spin)(void) = (void (*)(void))(uintptr_t)page;
    printf("%d %lx %zx\n", (int)getpid(), (unsigned long)(uintptr_t)page, sizeof CODE);
    fflush(stdout);
    for (;;)
        spin();
}
