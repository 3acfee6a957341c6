#include "domains/sd_metadata.h"

#include <array>
#include <charconv>
#include <set>

#include "base/uuid.h"
#include "domains/formats/utf8.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

struct TypeName {
  DomainType type;
  std::string_view name;
};
constexpr std::array<TypeName, 7> kTypeNames = {{
    {DomainType::kNfs, "NFS"},
    {DomainType::kFcp, "FCP"},
    {DomainType::kIscsi, "ISCSI"},
    {DomainType::kLocalFs, "LOCALFS"},
    {DomainType::kCifs, "CIFS"},
    {DomainType::kPosixFs, "POSIXFS"},
    {DomainType::kGlusterFs, "GLUSTERFS"},
}};

// Keys a v5 domain may hold; anything else means the file is foreign.
const std::set<std::string, std::less<>>& KnownKeys() {
  static const auto* keys = new std::set<std::string, std::less<>>{
      "ALIGNMENT",      "BLOCK_SIZE",
      "CLASS",          "DESCRIPTION",
      "IOOPTIMEOUTSEC", "LEASERETRIES",
      "LEASETIMESEC",   "LOCKPOLICY",
      "LOCKRENEWALINTERVALSEC",
      "POOL_UUID",      "REMOTE_PATH",
      "ROLE",           "SDUUID",
      "TYPE",           "VERSION",
      "POOL_DESCRIPTION", "POOL_DOMAINS",
      "POOL_SPM_ID",    "POOL_SPM_LVER",
      "MASTER_VERSION"};
  return *keys;
}

constexpr std::array<std::string_view, 5> kPoolKeys = {
    "POOL_DESCRIPTION", "POOL_DOMAINS", "POOL_SPM_ID", "POOL_SPM_LVER",
    "MASTER_VERSION"};

Status Invalid(std::string message) {
  return Status(Code::kDataLoss, "domain metadata: " + message,
                storage_code::kMetaDataValidationError);
}

Result<int64_t> ParseInt(const formats::MetadataDict& dict,
                         std::string_view key) {
  auto it = dict.find(std::string(key));
  if (it == dict.end()) {
    return Status(Code::kDataLoss,
                  "domain metadata: missing key " + std::string(key),
                  storage_code::kMetaDataKeyNotFound);
  }
  const std::string& v = it->second;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
    return Invalid(std::string(key) + " is not an integer");
  }
  return out;
}

Result<std::string> Required(const formats::MetadataDict& dict,
                             std::string_view key) {
  auto it = dict.find(std::string(key));
  if (it == dict.end()) {
    return Status(Code::kDataLoss,
                  "domain metadata: missing key " + std::string(key),
                  storage_code::kMetaDataKeyNotFound);
  }
  return it->second;
}

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    out.emplace_back(text.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

Result<PoolMetadata> PoolFromDict(const formats::MetadataDict& dict) {
  PoolMetadata pool;
  ASSIGN_OR_RETURN(pool.description, Required(dict, "POOL_DESCRIPTION"));
  ASSIGN_OR_RETURN(std::string domains, Required(dict, "POOL_DOMAINS"));
  for (const std::string& entry : Split(domains, ',')) {
    size_t colon = entry.find(':');
    if (colon == std::string::npos || !IsValidUuid(entry.substr(0, colon))) {
      return Invalid("POOL_DOMAINS entry is not <uuid>:<status>");
    }
    pool.domains.emplace_back(entry.substr(0, colon), entry.substr(colon + 1));
  }
  ASSIGN_OR_RETURN(int64_t spm_id, ParseInt(dict, "POOL_SPM_ID"));
  if (spm_id < -1 || spm_id > kMaxHosts) return Invalid("POOL_SPM_ID range");
  pool.spm_id = static_cast<int>(spm_id);
  ASSIGN_OR_RETURN(pool.spm_lver, ParseInt(dict, "POOL_SPM_LVER"));
  ASSIGN_OR_RETURN(pool.master_version, ParseInt(dict, "MASTER_VERSION"));
  return pool;
}

Result<size_t> CodePoints(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(auto cps, formats::DecodeUtf8(text, what));
  return cps.size();
}

}  // namespace

std::string_view ToString(DomainType type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) return t.name;
  }
  return "UNKNOWN";
}

std::string_view ToString(DomainClass cls) {
  switch (cls) {
    case DomainClass::kData: return "Data";
    case DomainClass::kIso: return "Iso";
    case DomainClass::kBackup: return "Backup";
  }
  return "Unknown";
}

std::string_view ToString(DomainRole role) {
  return role == DomainRole::kMaster ? "Master" : "Regular";
}

Result<DomainType> DomainTypeFromString(std::string_view name) {
  for (const auto& t : kTypeNames) {
    if (t.name == name) return t.type;
  }
  return InvalidParameter("unknown storage domain type");
}

Result<DomainClass> DomainClassFromString(std::string_view name) {
  for (DomainClass c :
       {DomainClass::kData, DomainClass::kIso, DomainClass::kBackup}) {
    if (ToString(c) == name) return c;
  }
  return Status(Code::kInvalidArgument, "unknown storage domain class",
                storage_code::kStorageDomainClassError);
}

Result<DomainType> DomainTypeFromWire(int id) {
  if (id < 1 || id > 7) return InvalidParameter("domainType out of range");
  return static_cast<DomainType>(id);
}

Result<DomainClass> DomainClassFromWire(int id) {
  if (id < 1 || id > 3) {
    return Status(Code::kInvalidArgument, "domainClass out of range",
                  storage_code::kStorageDomainClassError);
  }
  return static_cast<DomainClass>(id);
}

bool IsFileDomainType(DomainType type) {
  return type != DomainType::kFcp && type != DomainType::kIscsi;
}

Result<uint64_t> AlignmentFor(uint32_t block_size, int max_hosts) {
  if (max_hosts < 1 || max_hosts > kMaxHosts) {
    return InvalidParameter("maxHosts must be in 1..2000");
  }
  if (block_size == 512) return kMiB;
  if (block_size != 4096) {
    return InvalidParameter("block size must be 512 or 4096");
  }
  if (max_hosts <= 250) return kMiB;
  if (max_hosts <= 500) return 2 * kMiB;
  if (max_hosts <= 1000) return 4 * kMiB;
  return 8 * kMiB;
}

Status ValidateDomainMetadata(const DomainMetadata& md) {
  if (md.version != kDomainVersion) {
    return Status(Code::kInvalidArgument,
                  "domain version " + std::to_string(md.version) +
                      " is unsupported (only 5)",
                  storage_code::kUnsupportedDomainVersion);
  }
  RETURN_IF_ERROR(ValidateUuid(md.sd_uuid, "SDUUID"));
  for (const std::string& sp : md.pool_uuids) {
    RETURN_IF_ERROR(ValidateUuid(sp, "POOL_UUID"));
  }
  ASSIGN_OR_RETURN(size_t chars, CodePoints(md.description, "DESCRIPTION"));
  if (chars > kMaxDomainDescriptionChars) {
    return Status(Code::kInvalidArgument,
                  "domain description is longer than 50 characters",
                  storage_code::kStorageDomainDescriptionTooLong);
  }
  if (md.block_size != 512 && md.block_size != 4096) {
    return InvalidParameter("BLOCK_SIZE must be 512 or 4096");
  }
  bool alignment_ok = md.alignment == kMiB ||
                      (md.block_size == 4096 &&
                       (md.alignment == 2 * kMiB || md.alignment == 4 * kMiB ||
                        md.alignment == 8 * kMiB));
  if (!alignment_ok) {
    return InvalidParameter("ALIGNMENT does not fit BLOCK_SIZE");
  }
  if (md.pool.has_value() != (md.role == DomainRole::kMaster)) {
    return InvalidParameter("pool metadata is present exactly on master");
  }
  return Status::Ok();
}

Result<formats::MetadataDict> ToDict(const DomainMetadata& md) {
  RETURN_IF_ERROR(ValidateDomainMetadata(md));
  formats::MetadataDict d;
  d["ALIGNMENT"] = std::to_string(md.alignment);
  d["BLOCK_SIZE"] = std::to_string(md.block_size);
  d["CLASS"] = ToString(md.domain_class);
  d["DESCRIPTION"] = md.description;
  d["IOOPTIMEOUTSEC"] = std::to_string(md.io_op_timeout_sec);
  d["LEASERETRIES"] = std::to_string(md.lease_retries);
  d["LEASETIMESEC"] = std::to_string(md.lease_time_sec);
  d["LOCKPOLICY"] = md.lock_policy;
  d["LOCKRENEWALINTERVALSEC"] = std::to_string(md.lock_renewal_interval_sec);
  std::string pools;
  for (const std::string& sp : md.pool_uuids) {
    if (!pools.empty()) pools += ",";
    pools += sp;
  }
  d["POOL_UUID"] = pools;
  if (IsFileDomainType(md.type)) d["REMOTE_PATH"] = md.remote_path;
  d["ROLE"] = ToString(md.role);
  d["SDUUID"] = md.sd_uuid;
  d["TYPE"] = ToString(md.type);
  d["VERSION"] = std::to_string(md.version);
  if (md.pool) {
    d["POOL_DESCRIPTION"] = md.pool->description;
    std::string domains;
    for (const auto& [sd, status] : md.pool->domains) {
      if (!domains.empty()) domains += ",";
      domains += sd + ":" + status;
    }
    d["POOL_DOMAINS"] = domains;
    d["POOL_SPM_ID"] = std::to_string(md.pool->spm_id);
    d["POOL_SPM_LVER"] = std::to_string(md.pool->spm_lver);
    d["MASTER_VERSION"] = std::to_string(md.pool->master_version);
  }
  return d;
}

Result<DomainMetadata> FromDict(const formats::MetadataDict& dict) {
  // The version decides how to read the rest, so it is checked first.
  auto version_it = dict.find("VERSION");
  if (version_it == dict.end()) {
    return Status(Code::kDataLoss, "domain metadata: missing key VERSION",
                  storage_code::kMetaDataKeyNotFound);
  }
  if (version_it->second != "5") {
    return Status(Code::kFailedPrecondition,
                  "domain version '" + version_it->second.substr(0, 16) +
                      "' is unsupported (only 5)",
                  storage_code::kUnsupportedDomainVersion);
  }
  for (const auto& [key, value] : dict) {
    if (!KnownKeys().contains(key)) {
      return Invalid("unknown key '" + key.substr(0, 64) + "'");
    }
  }
  DomainMetadata md;
  md.version = kDomainVersion;
  ASSIGN_OR_RETURN(md.sd_uuid, Required(dict, "SDUUID"));
  if (!IsValidUuid(md.sd_uuid)) return Invalid("SDUUID is not a UUID");
  ASSIGN_OR_RETURN(std::string type, Required(dict, "TYPE"));
  auto parsed_type = DomainTypeFromString(type);
  if (!parsed_type.ok()) return Invalid("unknown TYPE");
  md.type = *parsed_type;
  ASSIGN_OR_RETURN(std::string cls, Required(dict, "CLASS"));
  auto parsed_class = DomainClassFromString(cls);
  if (!parsed_class.ok()) return Invalid("unknown CLASS");
  md.domain_class = *parsed_class;
  ASSIGN_OR_RETURN(md.description, Required(dict, "DESCRIPTION"));
  ASSIGN_OR_RETURN(std::string role, Required(dict, "ROLE"));
  if (role == "Master") {
    md.role = DomainRole::kMaster;
  } else if (role == "Regular") {
    md.role = DomainRole::kRegular;
  } else {
    return Invalid("unknown ROLE");
  }
  ASSIGN_OR_RETURN(std::string pools, Required(dict, "POOL_UUID"));
  md.pool_uuids = Split(pools, ',');
  ASSIGN_OR_RETURN(md.lock_policy, Required(dict, "LOCKPOLICY"));
  ASSIGN_OR_RETURN(int64_t renew, ParseInt(dict, "LOCKRENEWALINTERVALSEC"));
  ASSIGN_OR_RETURN(int64_t lease_time, ParseInt(dict, "LEASETIMESEC"));
  ASSIGN_OR_RETURN(int64_t io_timeout, ParseInt(dict, "IOOPTIMEOUTSEC"));
  ASSIGN_OR_RETURN(int64_t retries, ParseInt(dict, "LEASERETRIES"));
  for (int64_t v : {renew, lease_time, io_timeout, retries}) {
    if (v < 0 || v > 1000000) return Invalid("lease parameter out of range");
  }
  md.lock_renewal_interval_sec = static_cast<int>(renew);
  md.lease_time_sec = static_cast<int>(lease_time);
  md.io_op_timeout_sec = static_cast<int>(io_timeout);
  md.lease_retries = static_cast<int>(retries);
  if (IsFileDomainType(md.type)) {
    ASSIGN_OR_RETURN(md.remote_path, Required(dict, "REMOTE_PATH"));
  } else if (dict.contains("REMOTE_PATH")) {
    return Invalid("REMOTE_PATH on a block domain");
  }
  ASSIGN_OR_RETURN(int64_t block_size, ParseInt(dict, "BLOCK_SIZE"));
  ASSIGN_OR_RETURN(int64_t alignment, ParseInt(dict, "ALIGNMENT"));
  if (block_size < 0 || alignment < 0 || block_size > 65536) {
    return Invalid("BLOCK_SIZE/ALIGNMENT out of range");
  }
  md.block_size = static_cast<uint32_t>(block_size);
  md.alignment = static_cast<uint64_t>(alignment);
  bool any_pool_key = false;
  for (std::string_view key : kPoolKeys) {
    any_pool_key = any_pool_key || dict.contains(std::string(key));
  }
  if (any_pool_key) {
    ASSIGN_OR_RETURN(md.pool, PoolFromDict(dict));
  }
  if (Status s = ValidateDomainMetadata(md); !s.ok()) {
    return Invalid(std::string(s.message()));
  }
  return md;
}

Result<std::string> EncodeDomainMetadataFile(const DomainMetadata& md) {
  ASSIGN_OR_RETURN(formats::MetadataDict dict, ToDict(md));
  return formats::EncodeMetadataFile(dict);
}

Result<DomainMetadata> DecodeDomainMetadataFile(std::string_view bytes) {
  ASSIGN_OR_RETURN(formats::MetadataDict dict,
                   formats::DecodeMetadataFile(bytes));
  if (dict.empty()) {
    return Status(Code::kDataLoss, "domain metadata is empty",
                  storage_code::kStorageDomainMetadataNotFound);
  }
  return FromDict(dict);
}

}  // namespace sanpool
