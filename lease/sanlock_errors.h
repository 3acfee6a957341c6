// sanlock's return codes and how they become a Status.
//
// libsanlock returns 0 or a negative number: -errno (-EEXIST, -ENOENT,
// -EBUSY, -ECONNREFUSED when no daemon listens, -EPIPE when the daemon closed
// our registered connection, ...) or one of sanlock's own codes from -201
// down (sanlock_rv.h). The values are mirrored here so that FakeSanlock and
// the mapping can use them without the sanlock headers; sanlock_lib.cc
// static_asserts that they match.
//
// SanlockError() is the one place such a number becomes a Status:
//   - the Code follows base/status.h: storage I/O errors and timeouts are
//     kUnavailable (retry may work), corrupt or uninitialised lease areas
//     kDataLoss, a lease held by someone else / not joined / host id busy
//     kFailedPrecondition, a lost race on a lease version kAborted, bad
//     arguments kInvalidArgument, no daemon kUnavailable;
//   - storage_code() is oVirt's number for the operation (constants below;
//     the numbers are VDSM's, lib/vdsm/storage/exception.py);
//   - details: "sanlock_error" = the number, "sanlock_name" = its symbol
//     ("SANLK_ACQUIRE_IDLIVE", "EBUSY").
//
// Thread-safety: pure functions.
#ifndef SANPOOL_LEASE_SANLOCK_ERRORS_H_
#define SANPOOL_LEASE_SANLOCK_ERRORS_H_

#include <string_view>

#include "base/status.h"

namespace sanpool::lease {

// oVirt storage codes for lease operations.
namespace storage_code {
inline constexpr int kAcquireLockFailure = 651;
inline constexpr int kReleaseLockFailure = 660;
inline constexpr int kAcquireHostIdFailure = 661;
inline constexpr int kReleaseHostIdFailure = 662;
inline constexpr int kClusterLockInitError = 701;
inline constexpr int kSanlockInquireError = 704;
}  // namespace storage_code

// sanlock's own return codes (sanlock_rv.h, 3.8).
namespace sanlock_rv {
inline constexpr int kError = -201;
inline constexpr int kAioTimeout = -202;
inline constexpr int kWdError = -203;
inline constexpr int kDblockRead = -210;
inline constexpr int kDblockWrite = -211;
inline constexpr int kDblockLver = -212;
inline constexpr int kDblockMbal = -213;
inline constexpr int kDblockChecksum = -214;
inline constexpr int kLeaderRead = -220;
inline constexpr int kLeaderWrite = -221;
inline constexpr int kLeaderDiff = -222;
inline constexpr int kLeaderMagic = -223;
inline constexpr int kLeaderVersion = -224;
inline constexpr int kLeaderSectorSize = -225;
inline constexpr int kLeaderLockspace = -226;
inline constexpr int kLeaderResource = -227;
inline constexpr int kLeaderNumHosts = -228;
inline constexpr int kLeaderChecksum = -229;
inline constexpr int kAddLsSizes = -230;
inline constexpr int kAddLsInvalidHostId = -231;
inline constexpr int kAcquireLver = -240;
inline constexpr int kAcquireLockspace = -241;
inline constexpr int kAcquireIdDisk = -242;
inline constexpr int kAcquireIdLive = -243;
inline constexpr int kAcquireOwned = -244;
inline constexpr int kAcquireOther = -245;
inline constexpr int kAcquireShRetry = -246;
inline constexpr int kAcquireOwnedRetry = -247;
inline constexpr int kReleaseLver = -250;
inline constexpr int kReleaseOwner = -251;
inline constexpr int kRenewOwner = -260;
inline constexpr int kRenewDiff = -261;
inline constexpr int kHostIdBusy = -262;
}  // namespace sanlock_rv

// The libsanlock call that failed; picks the storage code and the meaning of
// ambiguous errnos (-ENOENT is "not held" for Release, "lockspace not
// joined" for GetHosts, "no daemon" for Register).
enum class SanlockOp {
  kRegister,
  kWriteLockspace,
  kWriteResource,
  kAddLockspace,
  kInquireLockspace,
  kRemoveLockspace,
  kAcquire,
  kRelease,
  kInquire,
  kReadResourceOwners,
  kGetHosts,
};
std::string_view SanlockOpName(SanlockOp op);

// The oVirt storage code for failures of `op`; 0 when oVirt has none.
int StorageCodeFor(SanlockOp op);

// "SANLK_ACQUIRE_IDLIVE", "EBUSY", or "sanlock error -299".
std::string SanlockErrorName(int rv);

// The Status for `rv` (< 0) returned by `op` on `what` (a lockspace or
// resource name, for the message): "acquire SDM: lease is held by another
// live host (SANLK_ACQUIRE_IDLIVE)". REQUIRES: rv < 0.
Status SanlockError(SanlockOp op, int rv, std::string_view what);

// The sanlock return code recorded in `status` (its "sanlock_error"
// detail), or 0 when it has none.
int SanlockErrorOf(const Status& status);

}  // namespace sanpool::lease

#endif  // SANPOOL_LEASE_SANLOCK_ERRORS_H_
