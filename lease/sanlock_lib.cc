// The only file in sanpool that includes the sanlock headers.
#include "lease/sanlock_lib.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include <sanlock.h>
#include <sanlock_admin.h>
#include <sanlock_resource.h>
#include <sanlock_rv.h>
}

#include "base/log.h"
#include "lease/sanlock_errors.h"

namespace sanpool::lease {
namespace {

// The mirrored return codes (lease/sanlock_errors.h) must match.
static_assert(sanlock_rv::kError == SANLK_ERROR);
static_assert(sanlock_rv::kAioTimeout == SANLK_AIO_TIMEOUT);
static_assert(sanlock_rv::kDblockChecksum == SANLK_DBLOCK_CHECKSUM);
static_assert(sanlock_rv::kLeaderMagic == SANLK_LEADER_MAGIC);
static_assert(sanlock_rv::kLeaderResource == SANLK_LEADER_RESOURCE);
static_assert(sanlock_rv::kLeaderChecksum == SANLK_LEADER_CHECKSUM);
static_assert(sanlock_rv::kAddLsInvalidHostId == SANLK_ADDLS_INVALID_HOSTID);
static_assert(sanlock_rv::kAcquireLver == SANLK_ACQUIRE_LVER);
static_assert(sanlock_rv::kAcquireLockspace == SANLK_ACQUIRE_LOCKSPACE);
static_assert(sanlock_rv::kAcquireIdLive == SANLK_ACQUIRE_IDLIVE);
static_assert(sanlock_rv::kAcquireOwned == SANLK_ACQUIRE_OWNED);
static_assert(sanlock_rv::kAcquireOther == SANLK_ACQUIRE_OTHER);
static_assert(sanlock_rv::kAcquireOwnedRetry == SANLK_ACQUIRE_OWNED_RETRY);
static_assert(sanlock_rv::kReleaseOwner == SANLK_RELEASE_OWNER);
static_assert(sanlock_rv::kHostIdBusy == SANLK_HOSTID_BUSY);
static_assert(kMaxNameLength == SANLK_NAME_LEN);
static_assert(kMaxPathLength == SANLK_PATH_LEN - 1);

constexpr std::string_view kLog = "sanlock";

uint32_t GeometryFlags(const LeaseGeometry& g) {
  // The LSF_ and RES_ flags have the same values (sanlock.h).
  static_assert(SANLK_LSF_ALIGN1M == SANLK_RES_ALIGN1M &&
                SANLK_LSF_ALIGN8M == SANLK_RES_ALIGN8M &&
                SANLK_LSF_SECTOR512 == SANLK_RES_SECTOR512 &&
                SANLK_LSF_SECTOR4K == SANLK_RES_SECTOR4K);
  uint32_t flags = g.block_size == 4096 ? SANLK_RES_SECTOR4K
                                        : SANLK_RES_SECTOR512;
  switch (g.alignment >> 20) {
    case 2: return flags | SANLK_RES_ALIGN2M;
    case 4: return flags | SANLK_RES_ALIGN4M;
    case 8: return flags | SANLK_RES_ALIGN8M;
    default: return flags | SANLK_RES_ALIGN1M;
  }
}

// Names are fixed 48-byte fields, NUL-terminated only when shorter.
void CopyName(char (&dst)[SANLK_NAME_LEN], std::string_view src) {
  std::memset(dst, 0, sizeof(dst));
  std::memcpy(dst, src.data(), std::min(src.size(), sizeof(dst)));
}

std::string NameOf(const char (&src)[SANLK_NAME_LEN]) {
  return std::string(src, strnlen(src, SANLK_NAME_LEN));
}

void CopyDisk(sanlk_disk* dst, const LeaseDisk& src) {
  std::memset(dst, 0, sizeof(*dst));
  std::memcpy(dst->path, src.path.data(),
              std::min(src.path.size(), sizeof(dst->path) - 1));
  dst->offset = src.offset;
}

// Whether the ALIGN/SECTOR flags go into the lockspace struct: only writes
// need them; add/inq/rem match lockspaces by name, host id and disk.
enum class GeometryFlagsMode { kOmit, kSet };

sanlk_lockspace MakeLockspace(const LockspaceSpec& spec,
                              GeometryFlagsMode mode) {
  sanlk_lockspace ls;
  std::memset(&ls, 0, sizeof(ls));
  CopyName(ls.name, spec.name);
  ls.host_id = spec.host_id;
  ls.flags =
      mode == GeometryFlagsMode::kSet ? GeometryFlags(spec.geometry) : 0;
  CopyDisk(&ls.host_id_disk, spec.disk);
  return ls;
}

// A sanlk_resource followed by its one disk (the struct ends in a flexible
// array), in suitably aligned storage.
class ResourceArg {
 public:
  explicit ResourceArg(const ResourceSpec& spec) {
    std::memset(storage_, 0, sizeof(storage_));
    sanlk_resource* r = get();
    CopyName(r->lockspace_name, spec.lockspace);
    CopyName(r->name, spec.name);
    r->flags = GeometryFlags(spec.geometry);
    r->num_disks = 1;
    // Through the storage, not r->disks[0]: g++ bounds-checks the
    // zero-length array.
    CopyDisk(reinterpret_cast<sanlk_disk*>(storage_ +
                                           offsetof(sanlk_resource, disks)),
             spec.disk);
  }
  sanlk_resource* get() { return reinterpret_cast<sanlk_resource*>(storage_); }

 private:
  alignas(sanlk_resource) unsigned char
      storage_[sizeof(sanlk_resource) + sizeof(sanlk_disk)];
};

HostLiveness LivenessOf(uint32_t flags) {
  switch (flags & SANLK_HOST_MASK) {
    case SANLK_HOST_FREE: return HostLiveness::kFree;
    case SANLK_HOST_LIVE: return HostLiveness::kLive;
    case SANLK_HOST_FAIL: return HostLiveness::kFail;
    case SANLK_HOST_DEAD: return HostLiveness::kDead;
    default: return HostLiveness::kUnknown;
  }
}

// libsanlock reports a missing daemon socket as -ENOENT, which the daemon
// itself uses for "no such lockspace / lease". When the socket is not there,
// the daemon is not running: say so (-ECONNREFUSED, kUnavailable) instead of
// "not joined".
int NoDaemonAsConnRefused(int rv) {
  if (rv != -ENOENT) return rv;
  const char* dir = std::getenv("SANLOCK_RUN_DIR");
  const std::string socket =
      std::string(dir != nullptr && *dir != '\0' ? dir : "/run/sanlock") +
      "/sanlock.sock";
  struct stat st{};
  return ::stat(socket.c_str(), &st) == 0 ? rv : -ECONNREFUSED;
}

bool IsDisconnect(int rv) {
  return rv == -EPIPE || rv == -ECONNRESET || rv == -ENOTCONN;
}

}  // namespace

SanlockLib::~SanlockLib() {
  MutexLock lock(mu_);
  if (fd_ >= 0) ::close(fd_);
}

Status SanlockLib::Register() {
  MutexLock lock(mu_);
  return EnsureRegisteredLocked();
}

Status SanlockLib::EnsureRegisteredLocked() {
  if (fd_ >= 0) return Status::Ok();
  int fd = NoDaemonAsConnRefused(sanlock_register());
  if (fd < 0) return SanlockError(SanlockOp::kRegister, fd, "");
  fd_ = fd;
  log::Info(kLog, "registered with the sanlock daemon", {{"fd", fd}});
  return Status::Ok();
}

bool SanlockLib::DropIfDisconnectedLocked(int rv) {
  if (!IsDisconnect(rv) || fd_ < 0) return false;
  ::close(fd_);
  fd_ = -1;
  log::Error(kLog, "sanlock closed our registered connection",
             {{"held", held_.size()}});
  return true;
}

Status SanlockLib::WriteLockspace(const LockspaceSpec& spec,
                                  uint32_t io_timeout_s) {
  RETURN_IF_ERROR(ValidateLockspace(spec));
  sanlk_lockspace ls = MakeLockspace(spec, GeometryFlagsMode::kSet);
  ls.host_id = 0;
  int rv =
      NoDaemonAsConnRefused(sanlock_write_lockspace(&ls, 0, 0, io_timeout_s));
  if (rv < 0) return SanlockError(SanlockOp::kWriteLockspace, rv, spec.name);
  return Status::Ok();
}

Status SanlockLib::WriteResource(const ResourceSpec& spec) {
  RETURN_IF_ERROR(ValidateResource(spec));
  ResourceArg res(spec);
  int rv =
      NoDaemonAsConnRefused(sanlock_write_resource(res.get(), 0, 0, 0));
  if (rv < 0) return SanlockError(SanlockOp::kWriteResource, rv, spec.name);
  return Status::Ok();
}

Status SanlockLib::AddLockspace(const LockspaceSpec& spec,
                                uint32_t io_timeout_s) {
  RETURN_IF_ERROR(ValidateLockspace(spec));
  if (spec.host_id == 0) return InvalidArgumentError("host id 0");
  sanlk_lockspace ls = MakeLockspace(spec, GeometryFlagsMode::kOmit);
  int rv = NoDaemonAsConnRefused(
      sanlock_add_lockspace_timeout(&ls, SANLK_ADD_ASYNC, io_timeout_s));
  if (rv == 0 || rv == -EEXIST || rv == -EINPROGRESS) return Status::Ok();
  return SanlockError(SanlockOp::kAddLockspace, rv, spec.name);
}

Result<LockspaceState> SanlockLib::InquireLockspace(
    const LockspaceSpec& spec) {
  RETURN_IF_ERROR(ValidateLockspace(spec));
  sanlk_lockspace ls = MakeLockspace(spec, GeometryFlagsMode::kOmit);
  int rv = NoDaemonAsConnRefused(sanlock_inq_lockspace(&ls, 0));
  if (rv == 0) return LockspaceState::kJoined;
  if (rv == -EINPROGRESS) return LockspaceState::kJoining;
  if (rv == -ENOENT) return LockspaceState::kNotJoined;
  return SanlockError(SanlockOp::kInquireLockspace, rv, spec.name);
}

Status SanlockLib::RemoveLockspace(const LockspaceSpec& spec,
                                   RemoveMode mode) {
  RETURN_IF_ERROR(ValidateLockspace(spec));
  sanlk_lockspace ls = MakeLockspace(spec, GeometryFlagsMode::kOmit);
  uint32_t flags = SANLK_REM_ASYNC;
  if (mode == RemoveMode::kUnusedOnly) flags |= SANLK_REM_UNUSED;
  int rv = NoDaemonAsConnRefused(sanlock_rem_lockspace(&ls, flags));
  if (rv == 0 || rv == -ENOENT || rv == -EINPROGRESS) return Status::Ok();
  return SanlockError(SanlockOp::kRemoveLockspace, rv, spec.name);
}

Result<uint64_t> SanlockLib::Acquire(const ResourceSpec& spec,
                                     const AcquireOptions& options) {
  RETURN_IF_ERROR(ValidateResource(spec));
  ResourceArg res(spec);
  if (options.expected_lver.value_or(0) != 0) {
    res.get()->flags |= SANLK_RES_LVER;
    res.get()->lver = *options.expected_lver;
  }
  const uint32_t flags = options.owner_wait == OwnerWait::kNoWait
                             ? SANLK_ACQUIRE_OWNER_NOWAIT
                             : 0;
  MutexLock lock(mu_);
  int rv = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    RETURN_IF_ERROR(EnsureRegisteredLocked());
    sanlk_resource* args[1] = {res.get()};
    rv = sanlock_acquire(fd_, -1, flags, 1, args, nullptr);
    if (!DropIfDisconnectedLocked(rv)) break;
    if (!held_.empty()) {
      held_.clear();
      return AbortedError(
          "acquire " + spec.name +
          ": registration lost while holding leases; they are released");
    }
  }
  if (rv < 0) return SanlockError(SanlockOp::kAcquire, rv, spec.name);
  held_.insert({spec.lockspace, spec.name});
  // sanlock does not return the version it wrote; ask for it. If that fails
  // the caller gets an error, so it must not be left holding the lease.
  Result<std::vector<HeldResource>> all = InquireLocked();
  if (all.ok()) {
    for (const HeldResource& h : *all) {
      if (h.lockspace == spec.lockspace && h.name == spec.name) return h.lver;
    }
  }
  Status error = all.ok() ? InternalError("acquire " + spec.name +
                                          ": acquired but not listed by "
                                          "inquire")
                          : all.status().Annotate("acquire " + spec.name);
  if (fd_ >= 0) {
    sanlk_resource* args[1] = {res.get()};
    if (sanlock_release(fd_, -1, 0, 1, args) == 0) {
      held_.erase({spec.lockspace, spec.name});
    }
  }
  return error;
}

Status SanlockLib::Release(const ResourceSpec& spec) {
  RETURN_IF_ERROR(ValidateResource(spec));
  ResourceArg res(spec);
  MutexLock lock(mu_);
  if (fd_ < 0) {
    return SanlockError(SanlockOp::kRelease, -ENOENT, spec.name);
  }
  sanlk_resource* args[1] = {res.get()};
  int rv = sanlock_release(fd_, -1, 0, 1, args);
  if (DropIfDisconnectedLocked(rv)) {
    held_.clear();
    return AbortedError("release " + spec.name +
                        ": registration lost; every lease was released");
  }
  if (rv < 0) {
    Status error = SanlockError(SanlockOp::kRelease, rv, spec.name);
    // Not held (any more): lost behind our back; stop counting it.
    if (error.code() == Code::kNotFound) {
      held_.erase({spec.lockspace, spec.name});
    }
    return error;
  }
  held_.erase({spec.lockspace, spec.name});
  return Status::Ok();
}

Result<std::vector<HeldResource>> SanlockLib::Inquire() {
  MutexLock lock(mu_);
  if (fd_ < 0) return std::vector<HeldResource>{};
  return InquireLocked();
}

Result<std::vector<HeldResource>> SanlockLib::InquireLocked() {
  int count = 0;
  char* state = nullptr;
  int rv = sanlock_inquire(fd_, -1, 0, &count, &state);
  if (rv < 0) {
    if (DropIfDisconnectedLocked(rv) && !held_.empty()) {
      held_.clear();
      return AbortedError("inquire: registration lost; leases are released");
    }
    return SanlockError(SanlockOp::kInquire, rv, "");
  }
  std::vector<HeldResource> out;
  if (state == nullptr || count == 0) {
    std::free(state);
    return out;
  }
  sanlk_resource** args = nullptr;
  int parsed = 0;
  rv = sanlock_state_to_args(state, &parsed, &args);
  std::free(state);
  if (rv < 0) return SanlockError(SanlockOp::kInquire, rv, "parse state");
  for (int i = 0; i < parsed; ++i) {
    const sanlk_resource* r = args[i];
    HeldResource h;
    h.lockspace = NameOf(r->lockspace_name);
    h.name = NameOf(r->name);
    h.lver = r->lver;
    for (uint32_t d = 0; d < r->num_disks; ++d) {
      h.disks.push_back({std::string(r->disks[d].path), r->disks[d].offset});
    }
    out.push_back(std::move(h));
    std::free(args[i]);
  }
  std::free(args);
  return out;
}

Result<ResourceOwners> SanlockLib::ReadResourceOwners(
    const ResourceSpec& spec) {
  RETURN_IF_ERROR(ValidateResource(spec));
  ResourceArg res(spec);
  sanlk_host* hosts = nullptr;
  int count = 0;
  int rv = NoDaemonAsConnRefused(
      sanlock_read_resource_owners(res.get(), 0, &hosts, &count));
  if (rv < 0) {
    std::free(hosts);
    return SanlockError(SanlockOp::kReadResourceOwners, rv, spec.name);
  }
  ResourceOwners out;
  out.lver = res.get()->lver;
  for (int i = 0; i < count; ++i) {
    out.owners.push_back({hosts[i].host_id, hosts[i].generation});
  }
  std::free(hosts);
  return out;
}

Result<std::vector<HostStatus>> SanlockLib::GetHosts(
    std::string_view lockspace, uint64_t host_id) {
  if (lockspace.empty() || lockspace.size() > kMaxNameLength) {
    return InvalidArgumentError("bad lockspace name");
  }
  char name[SANLK_NAME_LEN + 1] = {};
  std::memcpy(name, lockspace.data(), lockspace.size());
  sanlk_host* hosts = nullptr;
  int count = 0;
  int rv = NoDaemonAsConnRefused(
      sanlock_get_hosts(name, host_id, &hosts, &count, 0));
  if (rv < 0) {
    std::free(hosts);
    return SanlockError(SanlockOp::kGetHosts, rv, lockspace);
  }
  std::vector<HostStatus> out;
  for (int i = 0; i < count; ++i) {
    HostStatus h;
    h.host_id = hosts[i].host_id;
    h.generation = hosts[i].generation;
    h.timestamp = hosts[i].timestamp;
    h.io_timeout = hosts[i].io_timeout;
    h.liveness = LivenessOf(hosts[i].flags);
    out.push_back(h);
  }
  std::free(hosts);
  return out;
}

}  // namespace sanpool::lease
