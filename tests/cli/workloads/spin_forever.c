/* Spins until killed, in spin_here(): a target for -p and -a. */
static volatile unsigned long sink;

__attribute__((noinline)) static void spin_here(void) {
    for (;;)
        sink = sink * 6364136223846793005UL + 1;
}

int main(void) {
    spin_here();
    return 0;
}
