#include "spm/pool_metadata.h"

#include <algorithm>

#include "spm/pool_errors.h"

namespace sanpool::spm {

std::string_view ToString(PoolDomainStatus status) {
  switch (status) {
    case PoolDomainStatus::kActive:
      return "Active";
    case PoolDomainStatus::kAttached:
      return "Attached";
  }
  return "Attached";
}

Result<PoolDomainStatus> PoolDomainStatusFromString(std::string_view text) {
  if (text == "Active") return PoolDomainStatus::kActive;
  if (text == "Attached") return PoolDomainStatus::kAttached;
  return InvalidArgumentError("unknown pool domain status: " +
                              std::string(text));
}

Status CheckMaster(const DomainMetadata& md, std::string_view pool_uuid,
                   std::optional<int64_t> master_version) {
  auto wrong = [&](std::string why) {
    return Status(Code::kFailedPrecondition,
                  "wrong master domain " + md.sd_uuid + " for pool " +
                      std::string(pool_uuid) + ": " + why,
                  pool_code::kStoragePoolWrongMaster);
  };
  if (md.role != DomainRole::kMaster || !md.pool.has_value()) {
    return wrong("not a master domain");
  }
  if (std::find(md.pool_uuids.begin(), md.pool_uuids.end(), pool_uuid) ==
      md.pool_uuids.end()) {
    return wrong("not in the pool");
  }
  if (master_version && *master_version != md.pool->master_version) {
    return wrong("master version " + std::to_string(md.pool->master_version) +
                 ", expected " + std::to_string(*master_version));
  }
  return Status::Ok();
}

std::optional<PoolDomainStatus> DomainStatusIn(const PoolMetadata& pool,
                                               std::string_view sd_uuid) {
  for (const auto& [sd, status] : pool.domains) {
    if (sd != sd_uuid) continue;
    Result<PoolDomainStatus> parsed = PoolDomainStatusFromString(status);
    if (!parsed.ok()) return std::nullopt;
    return *parsed;
  }
  return std::nullopt;
}

void SetDomainStatus(PoolMetadata& pool, std::string_view sd_uuid,
                     PoolDomainStatus status) {
  for (auto& [sd, text] : pool.domains) {
    if (sd == sd_uuid) {
      text = std::string(ToString(status));
      return;
    }
  }
  pool.domains.emplace_back(std::string(sd_uuid),
                            std::string(ToString(status)));
}

bool RemoveDomain(PoolMetadata& pool, std::string_view sd_uuid) {
  auto it = std::find_if(pool.domains.begin(), pool.domains.end(),
                         [&](const auto& e) { return e.first == sd_uuid; });
  if (it == pool.domains.end()) return false;
  pool.domains.erase(it);
  return true;
}

Status UpdateDomainMetadata(
    DomainMetadataStore& store,
    const std::function<Status(DomainMetadata&)>& change) {
  ASSIGN_OR_RETURN(DomainMetadata md, store.Read());
  RETURN_IF_ERROR(change(md));
  return store.Write(md);
}

Status UpdatePoolMetadata(
    DomainMetadataStore& master, std::string_view pool_uuid,
    const std::function<Status(PoolMetadata&)>& change) {
  return UpdateDomainMetadata(master, [&](DomainMetadata& md) -> Status {
    RETURN_IF_ERROR(CheckMaster(md, pool_uuid, std::nullopt));
    return change(*md.pool);
  });
}

}  // namespace sanpool::spm
