// Typed storage-domain metadata (format version 5) on top of the sealed
// KEY=VALUE dictionary of domains/formats/domain_metadata.h.
//
// A file domain's `dom_md/metadata` holds these keys (reference §1.2):
//
//   ALIGNMENT=1048576            lease alignment, see AlignmentFor()
//   BLOCK_SIZE=512               512 or 4096
//   CLASS=Data                   Data | Iso | Backup
//   DESCRIPTION=<text>           at most 50 code points
//   IOOPTIMEOUTSEC=10  LEASERETRIES=3  LEASETIMESEC=60
//   LOCKPOLICY=  LOCKRENEWALINTERVALSEC=5      (legacy SafeLease parameters)
//   POOL_UUID=<sp>[,<sp>...]     empty when not attached
//   REMOTE_PATH=srv:/export      file domains only
//   ROLE=Regular | Master
//   SDUUID=<sd>  TYPE=NFS|LOCALFS|POSIXFS|...  VERSION=5
//   POOL_DESCRIPTION POOL_DOMAINS POOL_SPM_ID POOL_SPM_LVER MASTER_VERSION
//                                master domain only (pool metadata, §3.6)
//
// Decoding is strict: the seal must verify (752), VERSION must be present and
// equal to 5 (any other value is kUnsupportedDomainVersion, 394, checked
// before anything else so an old domain is not reported as "unknown keys"),
// every key must be one of the above (753), and every value must parse. A
// domain with foreign content is reported, never repaired.
//
// Thread-safety: pure functions and plain values.
#ifndef SANPOOL_DOMAINS_SD_METADATA_H_
#define SANPOOL_DOMAINS_SD_METADATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "domains/formats/domain_metadata.h"

namespace sanpool {

inline constexpr int kDomainVersion = 5;
inline constexpr size_t kMaxDomainDescriptionChars = 50;
inline constexpr uint64_t kMiB = 1024 * 1024;
inline constexpr int kMaxHosts = 2000;  // sc.HOSTS_MAX

// sd.DOMAIN_TYPES: names on storage, ids on the wire.
enum class DomainType {
  kNfs = 1,
  kFcp = 2,
  kIscsi = 3,
  kLocalFs = 4,
  kCifs = 5,
  kPosixFs = 6,
  kGlusterFs = 7,
};
enum class DomainClass { kData = 1, kIso = 2, kBackup = 3 };
enum class DomainRole { kRegular, kMaster };

std::string_view ToString(DomainType type);    // "NFS", "LOCALFS", ...
std::string_view ToString(DomainClass cls);    // "Data", "Iso", "Backup"
std::string_view ToString(DomainRole role);    // "Regular", "Master"
Result<DomainType> DomainTypeFromString(std::string_view name);
Result<DomainClass> DomainClassFromString(std::string_view name);
Result<DomainType> DomainTypeFromWire(int id);
Result<DomainClass> DomainClassFromWire(int id);
bool IsFileDomainType(DomainType type);

// The pool metadata a master domain carries (reference §3.6).
struct PoolMetadata {
  std::string description;  // POOL_DESCRIPTION
  // POOL_DOMAINS: "sd:Active,sd2:Attached" in stored order.
  std::vector<std::pair<std::string, std::string>> domains;
  int spm_id = -1;           // POOL_SPM_ID
  int64_t spm_lver = -1;     // POOL_SPM_LVER
  int64_t master_version = 0;  // MASTER_VERSION

  bool operator==(const PoolMetadata&) const = default;
};

struct DomainMetadata {
  int version = kDomainVersion;
  std::string sd_uuid;
  DomainType type = DomainType::kLocalFs;
  DomainClass domain_class = DomainClass::kData;
  std::string description;
  DomainRole role = DomainRole::kRegular;
  std::vector<std::string> pool_uuids;
  std::string lock_policy;
  int lock_renewal_interval_sec = 5;
  int lease_time_sec = 60;
  int io_op_timeout_sec = 10;
  int lease_retries = 3;
  std::string remote_path;  // file domains
  uint32_t block_size = 512;
  uint64_t alignment = kMiB;
  std::optional<PoolMetadata> pool;  // master domain only

  bool operator==(const DomainMetadata&) const = default;
};

// clusterlock.alignment(): block 512 -> 1 MiB for up to 2000 hosts; block
// 4096 -> 1/2/4/8 MiB for up to 250/500/1000/2000 hosts. kInvalidArgument
// (1000) for another block size or max_hosts outside 1..2000.
Result<uint64_t> AlignmentFor(uint32_t block_size, int max_hosts);

// Checks the invariants the encoder relies on: canonical SDUUID and pool
// UUIDs, description length, block size / alignment pair, version 5.
// kInvalidArgument with a storage code (387 description, 1000 otherwise).
Status ValidateDomainMetadata(const DomainMetadata& md);

// To and from the untyped dictionary (no seal involved).
Result<formats::MetadataDict> ToDict(const DomainMetadata& md);
Result<DomainMetadata> FromDict(const formats::MetadataDict& dict);

// The bytes of `dom_md/metadata` and back (seal included).
Result<std::string> EncodeDomainMetadataFile(const DomainMetadata& md);
Result<DomainMetadata> DecodeDomainMetadataFile(std::string_view bytes);

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_SD_METADATA_H_
