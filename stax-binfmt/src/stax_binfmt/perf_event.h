/*
 * The slice of <linux/perf_event.h> and libc that stax-backend-linux calls, for cffi's
 * ABI mode (read by perf_event_ffi.py; nothing is compiled at install time).
 *
 * Layout follows the uapi header (PERF_ATTR_SIZE_VER7 = 128 bytes).  The attr's flag
 * bitfield is ONE uint64 word ("flags"): C leaves bitfield layout to the compiler,
 * so perf_event_attr.py sets the bits by their documented positions instead.
 */

struct perf_event_attr {
    uint32_t type;                 /* PERF_TYPE_* */
    uint32_t size;                 /* sizeof(struct perf_event_attr): tells the kernel our ABI version */
    uint64_t config;               /* PERF_COUNT_* for the given type */
    union {
        uint64_t sample_period;
        uint64_t sample_freq;      /* used when the "freq" flag bit is set */
    };
    uint64_t sample_type;          /* PERF_SAMPLE_* bits: which fields a sample record carries */
    uint64_t read_format;
    uint64_t flags;                /* disabled:1, inherit:1, ... sigtrap:1 -- see perf_event_attr.py */
    union {
        uint32_t wakeup_events;
        uint32_t wakeup_watermark; /* bytes before poll() wakes us, when the "watermark" bit is set */
    };
    uint32_t bp_type;
    union {
        uint64_t bp_addr;
        uint64_t config1;
    };
    union {
        uint64_t bp_len;
        uint64_t config2;
    };
    uint64_t branch_sample_type;
    uint64_t sample_regs_user;
    uint32_t sample_stack_user;
    int32_t clockid;               /* used when the "use_clockid" bit is set */
    uint64_t sample_regs_intr;
    uint32_t aux_watermark;
    uint16_t sample_max_stack;     /* 0: the sysctl kernel.perf_event_max_stack */
    uint16_t __reserved_2;
    uint32_t aux_sample_size;
    uint32_t __reserved_3;
    uint64_t sig_data;
};

/* The first page of a perf mmap: metadata, then data_head/data_tail at offset 1024. */
struct perf_event_mmap_page {
    uint32_t version;
    uint32_t compat_version;
    uint32_t lock;
    uint32_t index;
    int64_t offset;
    uint64_t time_enabled;
    uint64_t time_running;
    uint64_t capabilities;
    uint16_t pmc_width;
    uint16_t time_shift;
    uint32_t time_mult;
    uint64_t time_offset;
    uint64_t time_zero;
    uint32_t size;
    uint32_t __reserved_1;
    uint64_t time_cycles;
    uint64_t time_mask;
    uint8_t __reserved[928];       /* 116*8: pads the header to 1 KiB */
    uint64_t data_head;            /* written by the kernel: end of valid data (free-running) */
    uint64_t data_tail;            /* written by us: what we have consumed (free-running) */
    uint64_t data_offset;          /* where the data area starts in the mapping */
    uint64_t data_size;            /* data area size, a power-of-two number of pages */
    uint64_t aux_head;
    uint64_t aux_tail;
    uint64_t aux_offset;
    uint64_t aux_size;
};

/* perf_event_open has no libc wrapper: perf_event_open(2) says to use syscall(2). */
long syscall(long number, ...);
int ioctl(int fd, unsigned long request, ...);
