// Every lease-related timeout, derived from sanlock's io_timeout.
//
// sanlock picks one number per lockspace, io_timeout (the longest one I/O
// may take; oVirt's default 10 s, the rig uses 2 s), and derives the rest
// from it (sanlock src/timeouts.{h,c}, 3.8). Nothing in sanpool hard-codes
// a lease timeout: it calls these functions with the io_timeout it gives
// sanlock (config `[sanlock] io_timeout`).
//
//   IdRenewal         2 N    the delta lease ("host N is alive") is renewed
//                            this often
//   IdRenewalWarn     6 N    sanlock logs renewals this late
//   IdRenewalFail     8 N    no successful renewal for this long: sanlock
//                            starts recovery, killing the processes that hold
//                            leases in the lockspace (the agent, as SPM);
//                            other hosts see the host as FAIL
//   WatchdogFire      60 s   fixed: /dev/watchdog resets a machine this long
//                            after its last keepalive; sanlock 3.8 does not
//                            let you change it, and adds it even when run
//                            without a watchdog (-w 0, the rig)
//   HostDead          8 N + 60   other hosts may take the leases of a host
//                            this long after its last renewal (DEAD)
//   DeltaAcquireFree  2 N .. 5 N   joining a lockspace whose host id is free
//   DeltaAcquireHeld  HostDead .. HostDead + 6 N   joining on a host id that
//                            a stopped host still held (unclean restart)
//   PaxosAcquireFree  0 .. 6 N    acquiring a free resource lease
//   PaxosAcquireHeld  HostDead .. HostDead + 7 N   acquiring a lease whose
//                            owner stopped renewing
//
// Worked timeline, io_timeout N = 10 s (default): host A is SPM and loses
// its storage just after a renewal at T0.
//   T0    last successful renewal of A's delta lease
//   T20   renewal due; fails (A retries at once, every I/O up to 10 s)
//   T60   renewal warning in A's sanlock log (IdRenewalWarn)
//   T80   IdRenewalFail: A's sanlock kills the agent (SDM lease holder);
//         other hosts now report A as FAIL; with a watchdog, A's wdmd stops
//         petting /dev/watchdog
//   T140  HostDead: A's watchdog has fired (it could fire from T120 on);
//         other hosts report A as DEAD and may acquire SDM
//   T140..T210  B's spmStart acquires SDM (PaxosAcquireHeld)
// oVirt's numbers: renewal 20 s, FAIL at 80 s, DEAD at 140 s (reference §3.2).
//
// Worked timeline, io_timeout N = 2 s (the rig): same story.
//   T0    last renewal; renewals every 4 s
//   T16   IdRenewalFail: A's sanlock kills A's lease holders
//   T76   HostDead (16 + 60): B may acquire A's leases
// Measured (lease/lease_system_test.cc, "a killed host's lease..."): after
// `kill -9` of A's sanlock daemon, B's daemon reported A as FAIL after
// 17.6-21 s, and B's blocking Acquire returned SDM after 78.3-81.3 s, when A
// became DEAD: HostDead counted from A's last renewal (up to IdRenewal before
// the kill) plus B's own renewal cadence, at which it re-reads A's delta
// lease (RIG.md: ~79 s). Between FAIL and DEAD, Acquire with
// OwnerWait::kNoWait fails with -247.
// When only the *process* holding the lease dies (its daemon alive), the
// daemon releases the lease within moments (0.14 s in
// lease/lease_system_test.cc).
// Joining a lockspace on a free host id takes DeltaShortDelay plus the
// daemon's 1 s completion poll (JoinFreeTypical): measured 5.0 s at N = 2
// and 21.0 s at N = 10 (bench/lease_bench.cc). RIG.md's "~21 s at
// io_timeout 2" matches N = 10, the daemon's default, i.e. a lockspace added
// without passing io_timeout.
//
// The rig has no watchdog (`-w 0`): a host that hangs instead of dying is not
// reset at HostDead, and other hosts take its leases anyway. Fencing there
// depends on the hung host's sanlock killing its lease holders at
// IdRenewalFail.
//
// Thread-safety: constexpr functions of their argument.
#ifndef SANPOOL_LEASE_TIMEOUTS_H_
#define SANPOOL_LEASE_TIMEOUTS_H_

#include <algorithm>
#include <chrono>

namespace sanpool::lease {

using Seconds = std::chrono::seconds;

// oVirt's default io_timeout (config sanlock:io_timeout).
inline constexpr Seconds kDefaultIoTimeout{10};
// The rig's io_timeout (RIG.md).
inline constexpr Seconds kRigIoTimeout{2};
// Fixed in sanlock 3.8 (DEFAULT_WATCHDOG_FIRE_TIMEOUT).
inline constexpr Seconds kWatchdogFireTimeout{60};

constexpr Seconds IdRenewal(Seconds io) { return 2 * io; }
constexpr Seconds IdRenewalWarn(Seconds io) { return 6 * io; }
constexpr Seconds IdRenewalFail(Seconds io) { return 8 * io; }
constexpr Seconds WatchdogFire() { return kWatchdogFireTimeout; }
constexpr Seconds HostDead(Seconds io) {
  return IdRenewalFail(io) + WatchdogFire();
}

// The delta-lease algorithm's delays (Chockler/Malkhi).
constexpr Seconds DeltaLargeDelay(Seconds io) {
  return IdRenewal(io) + 6 * io;
}
constexpr Seconds DeltaShortDelay(Seconds io) { return 2 * io; }
constexpr Seconds DeltaRenewMax(Seconds io) { return 2 * io; }

// Joining a lockspace (delta lease acquire).
constexpr Seconds DeltaAcquireFreeMin(Seconds io) {
  return DeltaShortDelay(io);
}
constexpr Seconds DeltaAcquireFreeMax(Seconds io) {
  return DeltaShortDelay(io) + 3 * io;
}
constexpr Seconds DeltaAcquireHeldMin(Seconds io) {
  return std::max(DeltaLargeDelay(io), HostDead(io));
}
constexpr Seconds DeltaAcquireHeldMax(Seconds io) {
  return DeltaAcquireHeldMin(io) + DeltaShortDelay(io) + 4 * io;
}
// sanlock's add_lockspace checks once a second whether the acquire is done.
inline constexpr Seconds kAddLockspacePoll{1};
// What a join on a free host id takes when I/O is fast (see the top).
constexpr Seconds JoinFreeTypical(Seconds io) {
  return DeltaAcquireFreeMin(io) + kAddLockspacePoll;
}

// Acquiring a resource lease (Paxos), uncontended.
constexpr Seconds PaxosAcquireFreeMax(Seconds io) { return 6 * io; }
constexpr Seconds PaxosAcquireHeldMin(Seconds io) { return HostDead(io); }
constexpr Seconds PaxosAcquireHeldMax(Seconds io) {
  return HostDead(io) + 7 * io;
}

// oVirt's waits built on the above.
//
// How long a caller waits for AddLockspace to reach kJoined before giving
// up: the held case plus slack for a slow daemon (oVirt waits 180 s for
// io_timeout 10, ACQUIRE_HOST_ID_TIMEOUT; this gives 200 s there).
constexpr Seconds JoinTimeout(Seconds io) {
  return DeltaAcquireHeldMax(io);
}
// The SPM lease watchdog's check interval (oVirt recommends 2 * io_timeout,
// spm:watchdog_interval): once per renewal.
constexpr Seconds SpmLeaseCheckInterval(Seconds io) { return IdRenewal(io); }

}  // namespace sanpool::lease

#endif  // SANPOOL_LEASE_TIMEOUTS_H_
