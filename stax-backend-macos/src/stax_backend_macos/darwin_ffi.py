"""cffi ABI-mode bindings to libSystem, kperf.framework and kperfdata.framework (macOS only).

ABI mode: no compiler, no headers; the libraries are dlopen'd on first use and only
on darwin, so importing this module on Linux works (the tests import it) and any call
there raises :class:`~stax.errors.CaptureError` with one sentence.  kperf and
kperfdata are private frameworks with plain C functions (no blocks), whose
signatures come from the calls xnu's own tests make (tests/ktrace/kperf_tests.c),
osfmk/kperf/kperfbsd.c (the sysctls they wrap) and ibireme's kpc_demo.  Avoided:
ktrace.framework, whose API takes blocks.  NEVER RUN ON A MAC (see the README).
"""

from __future__ import annotations

import sys
import threading

import cffi

from stax.errors import CaptureError

CDEF = """
typedef struct { uint32_t numer; uint32_t denom; } mach_timebase_info_data_t;
int mach_timebase_info(mach_timebase_info_data_t *info);
uint64_t mach_absolute_time(void);
int sysctl(int *name, unsigned int namelen, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
int getpeereid(int fd, uint32_t *euid, uint32_t *egid);
int proc_pidpath(int pid, void *buffer, uint32_t buffersize);
typedef void *posix_spawnattr_t;
int posix_spawnattr_init(posix_spawnattr_t *attr);
int posix_spawnattr_setflags(posix_spawnattr_t *attr, short flags);
int posix_spawnattr_destroy(posix_spawnattr_t *attr);
int posix_spawn(int *pid, const char *path, void *file_actions, const posix_spawnattr_t *attr,
                char *const argv[], char *const envp[]);
"""

KPERF_CDEF = """
int kperf_action_count_set(uint32_t count);
int kperf_action_samplers_set(uint32_t actionid, uint32_t sample);
int kperf_action_filter_set_by_pid(uint32_t actionid, int32_t pid);
int kperf_timer_count_set(uint32_t count);
int kperf_timer_period_set(uint32_t timerid, uint64_t tick);
int kperf_timer_action_set(uint32_t timerid, uint32_t actionid);
int kperf_timer_pet_set(uint32_t timerid);
int kperf_sample_set(uint32_t enabled);
int kperf_reset(void);
uint64_t kperf_ns_to_ticks(uint64_t ns);
int kpc_force_all_ctrs_set(int val);
int kpc_set_config(uint32_t classes, uint64_t *config);
int kpc_set_counting(uint32_t classes);
int kpc_set_thread_counting(uint32_t classes);
"""

KPERFDATA_CDEF = """
typedef struct kpep_db kpep_db;
typedef struct kpep_config kpep_config;
typedef struct kpep_event kpep_event;
int kpep_db_create(const char *name, kpep_db **db);
void kpep_db_free(kpep_db *db);
int kpep_db_event(kpep_db *db, const char *name, kpep_event **ev);
int kpep_config_create(kpep_db *db, kpep_config **cfg);
void kpep_config_free(kpep_config *cfg);
int kpep_config_force_counters(kpep_config *cfg);
int kpep_config_add_event(kpep_config *cfg, kpep_event **ev, uint32_t flag, uint32_t *err);
int kpep_config_kpc(kpep_config *cfg, uint64_t *buf, size_t buf_size);
int kpep_config_kpc_count(kpep_config *cfg, size_t *count);
int kpep_config_kpc_classes(kpep_config *cfg, uint32_t *classes);
int kpep_config_kpc_map(kpep_config *cfg, size_t *buf, size_t buf_size);
"""

KPERF_PATH = "/System/Library/PrivateFrameworks/kperf.framework/kperf"
KPERFDATA_PATH = "/System/Library/PrivateFrameworks/kperfdata.framework/kperfdata"

ffi = cffi.FFI()
ffi.cdef(CDEF)
ffi.cdef(KPERF_CDEF)
ffi.cdef(KPERFDATA_CDEF)

_lock = threading.Lock()
_libs: dict[str, object] = {}


def _open(key: str, path: str | None) -> object:
    if sys.platform != "darwin":
        raise CaptureError(f"{path or 'libSystem'} exists only on macOS; this host is {sys.platform}.")
    with _lock:
        lib = _libs.get(key)
        if lib is None:
            try:
                lib = ffi.dlopen(path)
            except OSError as exc:
                raise CaptureError(f"Cannot load {path or 'libSystem'} ({exc}); this macOS does not offer it."
                                   ) from None
            _libs[key] = lib
        return lib


def libsystem():  # noqa: ANN201
    """libSystem (sysctl, mach_timebase_info, getpeereid, proc_pidpath)."""
    return _open("libsystem", None)


def kperf():  # noqa: ANN201
    return _open("kperf", KPERF_PATH)


def kperfdata():  # noqa: ANN201
    return _open("kperfdata", KPERFDATA_PATH)
