/* Captures its own registers and a copy of its stack at known points of known call
 * chains, the way PERF_SAMPLE_REGS_USER + PERF_SAMPLE_STACK_USER would, so the
 * Python unwinder can be checked against reality.
 *
 *   snapshot_harness MODE OUTDIR [COUNT]
 *     chain   main -> driver_chain -> hot_loop -> snap
 *     qsort   main -> driver_qsort -> qsort (libc) -> ... -> compare_ints -> snap  (COUNT snapshots)
 *     signal  main -> driver_signal -> faulting_load (SIGSEGV at its first instruction)
 *             -> [__restore_rt] -> on_segv (SA_SIGINFO) -> snap
 *     noreturn main -> driver_noreturn -> ends_in_noreturn -> escape (noreturn) -> snap; the
 *             return address into ends_in_noreturn is the first byte after that function
 *
 * Each snapshot N writes OUTDIR/N.regs (name value lines, then the return addresses
 * glibc's backtrace() -- libgcc's unwinder -- found) and OUTDIR/N.stack (the bytes from
 * the snapshot's rsp upward).  OUTDIR/maps is /proc/self/maps at exit.
 *
 * `snap` is assembly: it stores every register as it was at its own first instruction
 * (rip = snap, rsp = pointing at the return address) then tail-jumps to snap_save,
 * which copies the stack above that rsp -- untouched by anything snap_save does, since
 * a callee only writes below its entry rsp.
 */
#define _GNU_SOURCE
#include <execinfo.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STACK 65528 /* the largest PERF_SAMPLE_STACK_USER size */

/* rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip: the DWARF register order */
__attribute__((used, visibility("hidden"))) uint64_t snap_regs[17];
static const char *reg_names[17] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8",
                                    "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip"};

void snap(const char *tag);
__asm__(
    "    .text\n"
    "    .globl snap\n"
    "    .type snap, @function\n"
    "snap:\n"
    "    .cfi_startproc\n"
    "    movq %rax, snap_regs+0(%rip)\n"
    "    movq %rdx, snap_regs+8(%rip)\n"
    "    movq %rcx, snap_regs+16(%rip)\n"
    "    movq %rbx, snap_regs+24(%rip)\n"
    "    movq %rsi, snap_regs+32(%rip)\n"
    "    movq %rdi, snap_regs+40(%rip)\n"
    "    movq %rbp, snap_regs+48(%rip)\n"
    "    movq %rsp, snap_regs+56(%rip)\n"
    "    movq %r8, snap_regs+64(%rip)\n"
    "    movq %r9, snap_regs+72(%rip)\n"
    "    movq %r10, snap_regs+80(%rip)\n"
    "    movq %r11, snap_regs+88(%rip)\n"
    "    movq %r12, snap_regs+96(%rip)\n"
    "    movq %r13, snap_regs+104(%rip)\n"
    "    movq %r14, snap_regs+112(%rip)\n"
    "    movq %r15, snap_regs+120(%rip)\n"
    "    leaq snap(%rip), %rax\n"
    "    movq %rax, snap_regs+128(%rip)\n"
    "    jmp snap_save\n"
    "    .cfi_endproc\n"
    "    .size snap, .-snap\n");

static const char *out_dir;
static int snap_count;
static uint64_t stack_top;
static unsigned char stack_copy[MAX_STACK];

static void die(const char *what) {
    perror(what);
    exit(2);
}

__attribute__((used)) void snap_save(const char *tag) {
    uint64_t rsp = snap_regs[7];
    size_t size = stack_top - rsp < MAX_STACK ? stack_top - rsp : MAX_STACK;
    memcpy(stack_copy, (void *)rsp, size);
    void *frames[128];
    int depth = backtrace(frames, 128);

    char path[4096];
    snprintf(path, sizeof path, "%s/%d.stack", out_dir, snap_count);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(stack_copy, 1, size, f) != size || fclose(f)) die(path);
    snprintf(path, sizeof path, "%s/%d.regs", out_dir, snap_count);
    f = fopen(path, "w");
    if (!f) die(path);
    fprintf(f, "tag %s\n", tag);
    for (int i = 0; i < 17; i++) fprintf(f, "%s %#llx\n", reg_names[i], (unsigned long long)snap_regs[i]);
    fprintf(f, "backtrace");
    for (int i = 0; i < depth; i++) fprintf(f, " %#llx", (unsigned long long)(uintptr_t)frames[i]);
    fprintf(f, "\n");
    if (fclose(f)) die(path);
    snap_count++;
}

/* ---- chain: main -> driver_chain -> hot_loop -> snap ---- */

__attribute__((noinline)) double hot_loop(const double *values, int n, int rounds) {
    double total = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) total += values[i] * (r + 1) / (i + 1.5);
        if (r == rounds / 2) snap("chain");
    }
    return total;
}

__attribute__((noinline)) double driver_chain(int n) {
    double *values = malloc(n * sizeof *values);
    for (int i = 0; i < n; i++) values[i] = i * 0.5;
    double result = hot_loop(values, n, 50);
    free(values);
    return result * 2.0;
}

/* ---- qsort: the comparator is called by libc, built without frame pointers ---- */

static long compare_calls;
static long snap_every;
static int snaps_wanted;

__attribute__((noinline)) int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (++compare_calls % snap_every == 0 && snap_count < snaps_wanted) snap("qsort");
    return (x > y) - (x < y);
}

__attribute__((noinline)) long driver_qsort(int n) {
    int *values = malloc(n * sizeof *values);
    unsigned seed = 12345;
    for (int i = 0; i < n; i++) values[i] = (int)((seed = seed * 1103515245u + 12345u) >> 8);
    qsort(values, n, sizeof *values, compare_ints);
    long check = values[0] + values[n - 1];
    free(values);
    return check;
}

/* ---- signal: a fault at the first instruction of faulting_load ---- */

static sigjmp_buf recover;

__attribute__((noinline)) int faulting_load(volatile int *p) { return *p + 1; }

static void on_segv(int sig, siginfo_t *info, void *context) {
    (void)sig, (void)info, (void)context;
    snap("signal");
    siglongjmp(recover, 1);
}

__attribute__((noinline)) int driver_signal(volatile int *p) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSEGV, &sa, NULL)) die("sigaction");
    if (sigsetjmp(recover, 1) == 0) return faulting_load(p) + 10;
    return -1;
}

/* ---- noreturn: a call that is the last instruction of its function ---- */

static jmp_buf escape_to;
static volatile int sink;

__attribute__((noinline, noreturn)) void escape(int v) {
    sink = v;
    snap("noreturn");
    longjmp(escape_to, 1);
}

__attribute__((noinline)) void ends_in_noreturn(int v) {
    sink = v * 3;
    escape(v + 1);
}

__attribute__((noinline)) int driver_noreturn(int v) {
    if (setjmp(escape_to) == 0) ends_in_noreturn(v);
    return sink + 1;
}

static void find_stack_top(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "[stack]")) {
            unsigned long long lo, hi;
            sscanf(line, "%llx-%llx", &lo, &hi);
            stack_top = hi;
        }
    if (maps) fclose(maps);
    if (!stack_top) die("no [stack] in /proc/self/maps");
}

static void save_maps(void) {
    char path[4096], buf[65536];
    snprintf(path, sizeof path, "%s/maps", out_dir);
    FILE *in = fopen("/proc/self/maps", "r"), *out = fopen(path, "w");
    if (!in || !out) die(path);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    if (fclose(out)) die(path);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s chain|qsort|signal|noreturn OUTDIR [COUNT]\n", argv[0]);
        return 2;
    }
    out_dir = argv[2];
    find_stack_top();
    void *warm[4];
    backtrace(warm, 4); /* loads libgcc_s now, so the maps saved at exit are complete */
    long result = 0;
    if (!strcmp(argv[1], "chain")) {
        result = (long)driver_chain(1000);
    } else if (!strcmp(argv[1], "qsort")) {
        snaps_wanted = argc > 3 ? atoi(argv[3]) : 50;
        snap_every = 97;
        result = driver_qsort(20000);
    } else if (!strcmp(argv[1], "noreturn")) {
        result = driver_noreturn(argc);
    } else if (!strcmp(argv[1], "signal")) {
        result = driver_signal(NULL);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    save_maps();
    printf("%d snapshots, result %ld\n", snap_count, result);
    return 0;
}
