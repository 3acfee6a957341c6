// Storage errors with oVirt's numeric codes.
//
// Engines written for VDSM branch on these numbers, so every storage failure
// the agent reports carries one (Status::storage_code) next to the generic
// Code. The numbers are VDSM's (lib/vdsm/storage/exception.py); the Code is
// chosen by the rules in base/status.h. One factory per error keeps messages
// uniform; callers add details with Status::WithDetail.
#ifndef SANPOOL_DOMAINS_STORAGE_ERRORS_H_
#define SANPOOL_DOMAINS_STORAGE_ERRORS_H_

#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace sanpool::storage_code {

inline constexpr int kVolumeDoesNotExist = 201;
inline constexpr int kIncorrectFormat = 202;
inline constexpr int kVolumeImageHasChildren = 204;
inline constexpr int kVolumeCreationError = 205;
inline constexpr int kVolumeMetadataReadError = 207;
inline constexpr int kVolumeMetadataWriteError = 208;
inline constexpr int kVolumeAlreadyExists = 212;
inline constexpr int kCannotDeleteSharedVolume = 223;
inline constexpr int kImageDoesNotExistInSd = 268;
inline constexpr int kImageIsNotLegalChain = 262;
inline constexpr int kStorageDomainDoesNotExist = 358;
inline constexpr int kStorageDomainAlreadyExists = 365;
inline constexpr int kStorageDomainMetadataCreationError = 362;
inline constexpr int kStorageDomainTargetUnsupported = 399;
// File domains and volumes (domains/file/).
inline constexpr int kStorageDomainCreationError = 351;
inline constexpr int kStorageDomainMetadataNotFound = 364;
inline constexpr int kStorageDomainLayoutError = 371;
inline constexpr int kStorageDomainClassError = 386;
inline constexpr int kStorageDomainDescriptionTooLong = 387;
inline constexpr int kUnsupportedDomainVersion = 394;
inline constexpr int kNoSpaceLeftOnDomain = 397;
inline constexpr int kVolumeExtendingError = 206;
inline constexpr int kCannotDeleteVolume = 222;
inline constexpr int kCreateIllegalVolumeSnapshot = 226;
inline constexpr int kPrepareIllegalVolume = 227;
inline constexpr int kCreateVolumeSizeError = 229;
inline constexpr int kIncorrectType = 231;
inline constexpr int kVolumeResizeValueError = 232;
inline constexpr int kImagePathError = 254;
inline constexpr int kImageDeleteError = 256;
inline constexpr int kMetaDataValidationError = 753;
inline constexpr int kMetadataCleared = 757;
inline constexpr int kUnsupportedOperation = 2009;
inline constexpr int kVolumeNonShareable = 214;
inline constexpr int kVolumeCopyError = 225;
inline constexpr int kCannotFormatAttachedStorageDomain = 391;
inline constexpr int kUnknownTask = 401;
inline constexpr int kStorageServerConnectionError = 451;
inline constexpr int kAcquireLockFailure = 651;
inline constexpr int kSpmStatusError = 654;  // "Not SPM"
inline constexpr int kMetaDataSealIsBroken = 752;
inline constexpr int kMetaDataKeyNotFound = 751;
inline constexpr int kMetadataOverflow = 756;
inline constexpr int kResourceTimeout = 851;
inline constexpr int kInvalidParameter = 1000;
inline constexpr int kMiscFileReadException = 2001;

}  // namespace sanpool::storage_code

namespace sanpool {

// Corrupt metadata: bad seal, unparsable line, wrong version.
inline Status MetadataSealBroken(std::string_view what) {
  return Status(Code::kDataLoss,
                "metadata seal is broken: " + std::string(what),
                storage_code::kMetaDataSealIsBroken);
}

// `status` with its storage code replaced by `storage_code` (code, message
// and details kept). OK stays OK.
inline Status WithStorageCode(const Status& status, int storage_code) {
  if (status.ok()) return status;
  Status out(status.code(), std::string(status.message()), storage_code);
  for (const StatusDetail& d : status.details()) {
    out = std::move(out).WithDetail(d.key, d.value);
  }
  return out;
}

inline Status InvalidParameter(std::string_view what) {
  return Status(Code::kInvalidArgument, std::string(what),
                storage_code::kInvalidParameter);
}

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_STORAGE_ERRORS_H_
