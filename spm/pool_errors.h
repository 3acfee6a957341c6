// Storage error codes of pools and the SPM (VDSM's storage exceptions,
// reference §3), and the Status each failure becomes. The RPC layer reports
// storage_code() as the JSON-RPC error code.
//
// Thread-safety: constants and pure functions.
#ifndef SANPOOL_SPM_POOL_ERRORS_H_
#define SANPOOL_SPM_POOL_ERRORS_H_

#include <string>

#include "base/status.h"

namespace sanpool::spm {

namespace pool_code {
inline constexpr int kStoragePoolMasterNotFound = 304;
inline constexpr int kStoragePoolUnknown = 309;       // not connected to it
inline constexpr int kCannotConnectMultiplePools = 323;
inline constexpr int kStoragePoolWrongMaster = 324;
inline constexpr int kStorageDomainNotInPool = 353;
inline constexpr int kStorageDomainAlreadyAttached = 380;
inline constexpr int kStoragePoolActionError = 315;   // disconnect while SPM
inline constexpr int kSpmStartError = 650;
inline constexpr int kIsSpm = 656;
inline constexpr int kSpmParamsMismatch = 657;        // prevID / prevLver
inline constexpr int kTaskInProgress = 403;           // spmStop with tasks
inline constexpr int kAcquireHostIdFailure = 661;
}  // namespace pool_code

// StoragePoolUnknown: this host is not connected to `pool_uuid` (or to any
// pool). kNotFound.
inline Status PoolNotConnectedError(const std::string& pool_uuid) {
  return Status(Code::kNotFound,
                "storage pool not connected: " + pool_uuid,
                pool_code::kStoragePoolUnknown);
}

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_POOL_ERRORS_H_
