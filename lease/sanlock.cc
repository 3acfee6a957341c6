#include "lease/sanlock.h"

#include <cerrno>
#include <string>

#include "lease/sanlock_errors.h"

namespace sanpool::lease {
namespace {

Status CheckName(std::string_view field, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength ||
      name.find('\0') != std::string_view::npos) {
    return InvalidArgumentError(std::string(field) + " must be 1.." +
                                std::to_string(kMaxNameLength) +
                                " bytes without NUL: '" + std::string(name) +
                                "'");
  }
  return Status::Ok();
}

Status CheckDisk(const LeaseDisk& disk, const LeaseGeometry& geometry) {
  if (disk.path.empty() || disk.path.size() > kMaxPathLength ||
      disk.path.find('\0') != std::string::npos) {
    return InvalidArgumentError("lease path must be 1.." +
                                std::to_string(kMaxPathLength) +
                                " bytes without NUL");
  }
  if (disk.offset % geometry.alignment != 0) {
    return InvalidArgumentError(
        "lease offset " + std::to_string(disk.offset) +
        " is not a multiple of the alignment " +
        std::to_string(geometry.alignment));
  }
  return Status::Ok();
}

}  // namespace

uint64_t MaxHostsFor(const LeaseGeometry& geometry) {
  constexpr uint64_t kMiB = 1 << 20;
  if (geometry.block_size == 512) {
    return geometry.alignment == kMiB ? 2000 : 0;
  }
  if (geometry.block_size == 4096) {
    switch (geometry.alignment) {
      case kMiB: return 250;
      case 2 * kMiB: return 500;
      case 4 * kMiB: return 1000;
      case 8 * kMiB: return 2000;
      default: return 0;
    }
  }
  return 0;
}

Status ValidateGeometry(const LeaseGeometry& geometry) {
  if (MaxHostsFor(geometry) == 0) {
    return InvalidArgumentError(
        "unsupported lease geometry: block size " +
        std::to_string(geometry.block_size) + ", alignment " +
        std::to_string(geometry.alignment) +
        " (512 needs 1 MiB; 4096 needs 1, 2, 4 or 8 MiB)");
  }
  return Status::Ok();
}

Status ValidateLockspace(const LockspaceSpec& spec) {
  RETURN_IF_ERROR(CheckName("lockspace name", spec.name));
  RETURN_IF_ERROR(ValidateGeometry(spec.geometry));
  RETURN_IF_ERROR(CheckDisk(spec.disk, spec.geometry));
  const uint64_t max_hosts = MaxHostsFor(spec.geometry);
  if (spec.host_id > max_hosts) {
    return InvalidArgumentError("host id " + std::to_string(spec.host_id) +
                                " out of range 1.." +
                                std::to_string(max_hosts));
  }
  return Status::Ok();
}

Status ValidateResource(const ResourceSpec& spec) {
  RETURN_IF_ERROR(CheckName("lockspace name", spec.lockspace));
  RETURN_IF_ERROR(CheckName("resource name", spec.name));
  RETURN_IF_ERROR(ValidateGeometry(spec.geometry));
  return CheckDisk(spec.disk, spec.geometry);
}

std::string_view LockspaceStateName(LockspaceState state) {
  switch (state) {
    case LockspaceState::kNotJoined: return "not_joined";
    case LockspaceState::kJoining: return "joining";
    case LockspaceState::kJoined: return "joined";
  }
  return "unknown";
}

std::string_view HostLivenessName(HostLiveness liveness) {
  switch (liveness) {
    case HostLiveness::kUnknown: return "unknown";
    case HostLiveness::kFree: return "free";
    case HostLiveness::kLive: return "live";
    case HostLiveness::kFail: return "fail";
    case HostLiveness::kDead: return "dead";
  }
  return "unknown";
}

Result<HostLiveness> HostIdLiveness(Sanlock& sanlock,
                                    std::string_view lockspace,
                                    uint64_t host_id) {
  if (host_id == 0) return InvalidArgumentError("host id 0");
  Result<std::vector<HostStatus>> hosts = sanlock.GetHosts(lockspace, host_id);
  if (!hosts.ok()) {
    // Joined too recently to judge.
    if (SanlockErrorOf(hosts.status()) == -EAGAIN) return HostLiveness::kUnknown;
    return hosts.status();
  }
  for (const HostStatus& h : *hosts) {
    if (h.host_id == host_id) return h.liveness;
  }
  return HostLiveness::kFree;
}

Result<LeaseHolder> InspectLease(Sanlock& sanlock, const ResourceSpec& spec) {
  ASSIGN_OR_RETURN(ResourceOwners owners, sanlock.ReadResourceOwners(spec));
  LeaseHolder holder;
  holder.lver = owners.lver;
  if (owners.owners.empty()) return holder;
  if (owners.owners.size() > 1) {
    return DataLossError("exclusive lease " + spec.name + " has " +
                         std::to_string(owners.owners.size()) + " owners");
  }
  const ResourceOwners::Owner& owner = owners.owners.front();
  Result<std::vector<HostStatus>> hosts =
      sanlock.GetHosts(spec.lockspace, owner.host_id);
  if (!hosts.ok()) {
    // Too soon after joining to judge: assume the owner holds it.
    if (SanlockErrorOf(hosts.status()) == -EAGAIN) {
      holder.host_id = owner.host_id;
      return holder;
    }
    return hosts.status();
  }
  for (const HostStatus& h : *hosts) {
    if (h.host_id != owner.host_id) continue;
    if (h.generation != owner.generation ||
        h.liveness == HostLiveness::kDead ||
        h.liveness == HostLiveness::kFree) {
      return holder;  // the owner restarted or is gone: nobody holds it
    }
    holder.host_id = owner.host_id;
    return holder;
  }
  return holder;
}

}  // namespace sanpool::lease
