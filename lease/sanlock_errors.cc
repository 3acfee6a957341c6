#include "lease/sanlock_errors.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace sanpool::lease {
namespace {

struct RvInfo {
  int rv;
  const char* name;
  Code code;
  const char* text;
};

// sanlock's own codes. I/O errors and timeouts are transient (kUnavailable);
// bad on-disk records are kDataLoss; ownership conflicts kFailedPrecondition;
// lost version races kAborted.
constexpr RvInfo kRvTable[] = {
    {sanlock_rv::kError, "SANLK_ERROR", Code::kUnknown, "sanlock error"},
    {sanlock_rv::kAioTimeout, "SANLK_AIO_TIMEOUT", Code::kUnavailable,
     "storage I/O timed out"},
    {sanlock_rv::kWdError, "SANLK_WD_ERROR", Code::kUnavailable,
     "watchdog daemon error"},
    {sanlock_rv::kDblockRead, "SANLK_DBLOCK_READ", Code::kUnavailable,
     "cannot read lease dblock"},
    {sanlock_rv::kDblockWrite, "SANLK_DBLOCK_WRITE", Code::kUnavailable,
     "cannot write lease dblock"},
    {sanlock_rv::kDblockLver, "SANLK_DBLOCK_LVER", Code::kAborted,
     "lease version changed during the ballot"},
    {sanlock_rv::kDblockMbal, "SANLK_DBLOCK_MBAL", Code::kAborted,
     "another host is running a ballot on the lease"},
    {sanlock_rv::kDblockChecksum, "SANLK_DBLOCK_CHECKSUM", Code::kDataLoss,
     "lease dblock checksum mismatch"},
    {sanlock_rv::kLeaderRead, "SANLK_LEADER_READ", Code::kUnavailable,
     "cannot read leader record"},
    {sanlock_rv::kLeaderWrite, "SANLK_LEADER_WRITE", Code::kUnavailable,
     "cannot write leader record"},
    {sanlock_rv::kLeaderDiff, "SANLK_LEADER_DIFF", Code::kAborted,
     "leader record changed"},
    {sanlock_rv::kLeaderMagic, "SANLK_LEADER_MAGIC", Code::kDataLoss,
     "no lease at this offset (bad magic: not initialised?)"},
    {sanlock_rv::kLeaderVersion, "SANLK_LEADER_VERSION", Code::kDataLoss,
     "unsupported leader record version"},
    {sanlock_rv::kLeaderSectorSize, "SANLK_LEADER_SECTORSIZE",
     Code::kInvalidArgument, "sector size does not match the lease area"},
    {sanlock_rv::kLeaderLockspace, "SANLK_LEADER_LOCKSPACE",
     Code::kFailedPrecondition, "the lease belongs to another lockspace"},
    {sanlock_rv::kLeaderResource, "SANLK_LEADER_RESOURCE",
     Code::kFailedPrecondition, "another resource name is stored there"},
    {sanlock_rv::kLeaderNumHosts, "SANLK_LEADER_NUMHOSTS", Code::kDataLoss,
     "leader record host count is invalid"},
    {sanlock_rv::kLeaderChecksum, "SANLK_LEADER_CHECKSUM", Code::kDataLoss,
     "leader record checksum mismatch"},
    {sanlock_rv::kAddLsSizes, "SANLK_ADDLS_SIZES", Code::kInvalidArgument,
     "lockspace sizes do not match"},
    {sanlock_rv::kAddLsInvalidHostId, "SANLK_ADDLS_INVALID_HOSTID",
     Code::kInvalidArgument, "host id out of range for the lockspace"},
    {sanlock_rv::kAcquireLver, "SANLK_ACQUIRE_LVER", Code::kAborted,
     "lease version is not the expected one"},
    {sanlock_rv::kAcquireLockspace, "SANLK_ACQUIRE_LOCKSPACE",
     Code::kFailedPrecondition, "lockspace is not joined"},
    {sanlock_rv::kAcquireIdDisk, "SANLK_ACQUIRE_IDDISK",
     Code::kFailedPrecondition, "cannot read the owner's delta lease"},
    {sanlock_rv::kAcquireIdLive, "SANLK_ACQUIRE_IDLIVE",
     Code::kFailedPrecondition, "lease is held by another live host"},
    {sanlock_rv::kAcquireOwned, "SANLK_ACQUIRE_OWNED",
     Code::kFailedPrecondition, "lease is held by this host"},
    {sanlock_rv::kAcquireOther, "SANLK_ACQUIRE_OTHER",
     Code::kFailedPrecondition, "lease is held by another process here"},
    {sanlock_rv::kAcquireShRetry, "SANLK_ACQUIRE_SHRETRY", Code::kUnavailable,
     "shared lease busy, retry"},
    {sanlock_rv::kAcquireOwnedRetry, "SANLK_ACQUIRE_OWNED_RETRY",
     Code::kUnavailable, "lease owner is failing; retry after it is dead"},
    {sanlock_rv::kReleaseLver, "SANLK_RELEASE_LVER", Code::kAborted,
     "lease version changed: the lease was lost"},
    {sanlock_rv::kReleaseOwner, "SANLK_RELEASE_OWNER", Code::kAborted,
     "lease is owned by another host: it was lost"},
    {sanlock_rv::kRenewOwner, "SANLK_RENEW_OWNER", Code::kAborted,
     "delta lease taken over by another host"},
    {sanlock_rv::kRenewDiff, "SANLK_RENEW_DIFF", Code::kAborted,
     "delta lease changed under us"},
    {sanlock_rv::kHostIdBusy, "SANLK_HOSTID_BUSY", Code::kFailedPrecondition,
     "host id is in use by another host"},
};

const RvInfo* FindRv(int rv) {
  for (const RvInfo& info : kRvTable) {
    if (info.rv == rv) return &info;
  }
  return nullptr;
}

// Errnos whose meaning depends on the call. Returns false to fall back to
// the generic errno mapping.
bool OpSpecificErrno(SanlockOp op, int err, Code* code, std::string* text) {
  switch (err) {
    case ECONNREFUSED:
      *code = Code::kUnavailable;
      *text = "sanlock daemon is not running";
      return true;
    case EPIPE:
    case ECONNRESET:
      *code = Code::kUnavailable;
      *text = "connection to the sanlock daemon was lost";
      return true;
    default:
      break;
  }
  switch (op) {
    case SanlockOp::kRegister:
      if (err == ENOENT) {
        *code = Code::kUnavailable;
        *text = "sanlock daemon socket not found (daemon not running?)";
        return true;
      }
      return false;
    case SanlockOp::kAcquire:
      if (err == EEXIST) {
        *code = Code::kAlreadyExists;
        *text = "lease is already held by this process";
        return true;
      }
      // sanlock 3.8 answers -ENOSPC when the daemon has no such lockspace.
      if (err == ENOENT || err == ENOSPC) {
        *code = Code::kFailedPrecondition;
        *text = "lockspace is not joined";
        return true;
      }
      return false;
    case SanlockOp::kRelease:
      // sanlock 3.8 answers -EPERM for a lease this client does not hold.
      if (err == ENOENT || err == EPERM) {
        *code = Code::kNotFound;
        *text = "lease is not held by this process";
        return true;
      }
      return false;
    case SanlockOp::kAddLockspace:
      if (err == EAGAIN) {
        *code = Code::kUnavailable;
        *text = "lockspace is being removed";
        return true;
      }
      return false;
    case SanlockOp::kRemoveLockspace:
      if (err == EBUSY) {
        *code = Code::kFailedPrecondition;
        *text = "leases in the lockspace are still held";
        return true;
      }
      return false;
    case SanlockOp::kInquire:
      if (err == EBUSY) {
        *code = Code::kUnavailable;
        *text = "sanlock is busy with this client";
        return true;
      }
      return false;
    case SanlockOp::kGetHosts:
      if (err == ENOENT) {
        *code = Code::kFailedPrecondition;
        *text = "lockspace is not joined";
        return true;
      }
      if (err == EAGAIN) {
        *code = Code::kUnavailable;
        *text = "host status not known yet (joined too recently)";
        return true;
      }
      return false;
    default:
      return false;
  }
}

}  // namespace

std::string_view SanlockOpName(SanlockOp op) {
  switch (op) {
    case SanlockOp::kRegister: return "register";
    case SanlockOp::kWriteLockspace: return "write_lockspace";
    case SanlockOp::kWriteResource: return "write_resource";
    case SanlockOp::kAddLockspace: return "add_lockspace";
    case SanlockOp::kInquireLockspace: return "inq_lockspace";
    case SanlockOp::kRemoveLockspace: return "rem_lockspace";
    case SanlockOp::kAcquire: return "acquire";
    case SanlockOp::kRelease: return "release";
    case SanlockOp::kInquire: return "inquire";
    case SanlockOp::kReadResourceOwners: return "read_resource_owners";
    case SanlockOp::kGetHosts: return "get_hosts";
  }
  return "sanlock";
}

int StorageCodeFor(SanlockOp op) {
  switch (op) {
    case SanlockOp::kRegister:
    case SanlockOp::kAcquire:
      return storage_code::kAcquireLockFailure;
    case SanlockOp::kRelease:
      return storage_code::kReleaseLockFailure;
    case SanlockOp::kAddLockspace:
    case SanlockOp::kInquireLockspace:
      return storage_code::kAcquireHostIdFailure;
    case SanlockOp::kRemoveLockspace:
      return storage_code::kReleaseHostIdFailure;
    case SanlockOp::kWriteLockspace:
    case SanlockOp::kWriteResource:
      return storage_code::kClusterLockInitError;
    case SanlockOp::kInquire:
      return storage_code::kSanlockInquireError;
    case SanlockOp::kReadResourceOwners:
    case SanlockOp::kGetHosts:
      return 0;
  }
  return 0;
}

std::string SanlockErrorName(int rv) {
  if (const RvInfo* info = FindRv(rv)) return info->name;
  if (rv < 0 && rv > -200) {
    if (const char* name = strerrorname_np(-rv)) return name;
  }
  return "sanlock error " + std::to_string(rv);
}

Status SanlockError(SanlockOp op, int rv, std::string_view what) {
  assert(rv < 0);
  std::string context(SanlockOpName(op));
  if (!what.empty()) context += " " + std::string(what);
  const std::string name = SanlockErrorName(rv);
  Code code = Code::kUnknown;
  std::string text;
  if (const RvInfo* info = FindRv(rv)) {
    code = info->code;
    text = info->text;
  } else if (rv > -200 && OpSpecificErrno(op, -rv, &code, &text)) {
    // code and text set.
  } else if (rv > -200) {
    Status generic = ErrnoToStatus(-rv, context);
    code = generic.code();
    text = std::strerror(-rv);
  } else {
    text = "unknown sanlock error";
  }
  return Status(code, context + ": " + text + " (" + name + ")",
                StorageCodeFor(op))
      .WithDetail("sanlock_error", std::to_string(rv))
      .WithDetail("sanlock_name", name);
}

int SanlockErrorOf(const Status& status) {
  for (const StatusDetail& d : status.details()) {
    if (d.key == "sanlock_error") {
      try {
        return std::stoi(d.value);
      } catch (...) {
        return 0;
      }
    }
  }
  return 0;
}

}  // namespace sanpool::lease
