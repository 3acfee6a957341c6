// libsanlock-shim.so: an LD_PRELOAD library that lets the sanlock daemon run
// in containers and VMs that forbid raising two resource limits.
//
// `sanlock daemon` raises RLIMIT_MEMLOCK to unlimited (for mlockall) and may
// raise RLIMIT_RTPRIO (for its real-time priority); where the environment
// forbids that, setrlimit() fails with EPERM and the daemon exits with
// "cannot set the limits for memlock". Started with `-l 0 -h 0` the daemon
// neither locks memory nor uses RT priority, so those limits do not matter:
// this shim wraps setrlimit()/setrlimit64() and reports success when raising
// RLIMIT_MEMLOCK or RLIMIT_RTPRIO fails. Every other call, and every call
// that succeeds, is passed through unchanged.
//
// Usage (the rig and lease/sanlock_daemon_fixture.h do this):
//   env LD_PRELOAD=<build>/tools/sanlock_shim/libsanlock-shim.so
//       SANLOCK_RUN_DIR=/run/sanpool/host1
//       sanlock daemon -D -w 0 -l 0 -h 0 -U root -G root
//
// Not for production hosts: there the daemon runs as packaged, with its
// watchdog and memory locking.
// Both names are defined here; with _FILE_OFFSET_BITS=64 (meson's default)
// glibc's header would rename setrlimit to setrlimit64.
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <sys/resource.h>

namespace {

using SetrlimitFn = int (*)(__rlimit_resource_t, const struct rlimit*);
using Setrlimit64Fn = int (*)(__rlimit_resource_t, const struct rlimit64*);

bool Tolerated(__rlimit_resource_t resource) {
  return resource == RLIMIT_MEMLOCK || resource == RLIMIT_RTPRIO;
}

}  // namespace

extern "C" {

// NOLINTNEXTLINE(readability-identifier-naming): libc's name.
int setrlimit(__rlimit_resource_t resource, const struct rlimit* rlim) {
  static auto next =
      reinterpret_cast<SetrlimitFn>(dlsym(RTLD_NEXT, "setrlimit"));
  int rv = next != nullptr ? next(resource, rlim) : -1;
  if (rv != 0 && Tolerated(resource)) return 0;
  return rv;
}

// NOLINTNEXTLINE(readability-identifier-naming): libc's name.
int setrlimit64(__rlimit_resource_t resource, const struct rlimit64* rlim) {
  static auto next =
      reinterpret_cast<Setrlimit64Fn>(dlsym(RTLD_NEXT, "setrlimit64"));
  int rv = next != nullptr ? next(resource, rlim) : -1;
  if (rv != 0 && Tolerated(resource)) return 0;
  return rv;
}

}  // extern "C"
