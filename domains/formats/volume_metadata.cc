#include "domains/formats/volume_metadata.h"

#include <charconv>
#include <map>

#include "domains/formats/utf8.h"
#include "domains/storage_errors.h"

namespace sanpool::formats {
namespace {

constexpr std::string_view kDiskTypes[] = {"DATA", "ISOF", "MEMD", "MEMM",
                                           "OVFS", "HEVD", "HESD", "HEMD",
                                           "HECI", "SCRD", "2",    "1"};

Status Corrupt(std::string what) {
  return Status(Code::kDataLoss, "volume metadata: " + what,
                storage_code::kVolumeMetadataReadError);
}

std::string_view Trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

template <typename T>
Result<T> ParseNumber(std::string_view key, std::string_view text, T max) {
  T v{};
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v > max) {
    return Corrupt(std::string(key) + "=" + std::string(text) +
                   " is not a valid number");
  }
  return v;
}

template <typename E, size_t N>
Result<E> ParseEnum(std::string_view key, std::string_view text,
                    const std::pair<std::string_view, E> (&table)[N]) {
  for (const auto& [name, value] : table) {
    if (name == text) return value;
  }
  return Corrupt(std::string(key) + "=" + std::string(text) +
                 " is not a known value");
}

constexpr std::pair<std::string_view, VolumeFormat> kFormats[] = {
    {"RAW", VolumeFormat::kRaw}, {"COW", VolumeFormat::kCow}};
constexpr std::pair<std::string_view, Allocation> kAllocations[] = {
    {"PREALLOCATED", Allocation::kPreallocated},
    {"SPARSE", Allocation::kSparse}};
constexpr std::pair<std::string_view, VolumeRole> kRoles[] = {
    {"LEAF", VolumeRole::kLeaf},
    {"INTERNAL", VolumeRole::kInternal},
    {"SHARED", VolumeRole::kShared}};
constexpr std::pair<std::string_view, Legality> kLegalities[] = {
    {"LEGAL", Legality::kLegal},
    {"ILLEGAL", Legality::kIllegal},
    {"FAKE", Legality::kFake}};

Status CheckValue(std::string_view key, std::string_view v) {
  if (v.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos) {
    return InvalidArgumentError("volume " + std::string(key) +
                                " contains a newline or NUL character");
  }
  return Status::Ok();
}

}  // namespace

std::string_view ToString(VolumeFormat f) {
  return f == VolumeFormat::kRaw ? "RAW" : "COW";
}
std::string_view ToString(Allocation a) {
  return a == Allocation::kPreallocated ? "PREALLOCATED" : "SPARSE";
}
std::string_view ToString(VolumeRole r) {
  switch (r) {
    case VolumeRole::kLeaf: return "LEAF";
    case VolumeRole::kInternal: return "INTERNAL";
    case VolumeRole::kShared: return "SHARED";
  }
  return "LEAF";
}
std::string_view ToString(Legality l) {
  switch (l) {
    case Legality::kLegal: return "LEGAL";
    case Legality::kIllegal: return "ILLEGAL";
    case Legality::kFake: return "FAKE";
  }
  return "LEGAL";
}

int WireId(VolumeFormat f) { return f == VolumeFormat::kRaw ? 5 : 4; }
int WireId(Allocation a) { return a == Allocation::kPreallocated ? 1 : 2; }

Result<VolumeFormat> VolumeFormatFromWire(int id) {
  if (id == 5) return VolumeFormat::kRaw;
  if (id == 4) return VolumeFormat::kCow;
  return InvalidParameter("volFormat must be 4 (COW) or 5 (RAW), got " +
                          std::to_string(id));
}

Result<Allocation> AllocationFromWire(int id) {
  if (id == 1) return Allocation::kPreallocated;
  if (id == 2) return Allocation::kSparse;
  return InvalidParameter(
      "preallocate must be 1 (PREALLOCATED) or 2 (SPARSE), got " +
      std::to_string(id));
}

Result<std::string> EncodeVolumeMetadata(const VolumeMetadata& md,
                                         MetadataVersion version) {
  RETURN_IF_ERROR(CheckValue("description", md.description));
  RETURN_IF_ERROR(CheckValue("disk type", md.disk_type));
  RETURN_IF_ERROR(CheckValue("domain", md.domain));
  RETURN_IF_ERROR(CheckValue("image", md.image));
  RETURN_IF_ERROR(CheckValue("parent", md.parent));
  auto desc_cps = DecodeUtf8(md.description, "description");
  if (!desc_cps.ok()) return InvalidArgumentError("description is not UTF-8");
  if (md.generation < 0 || md.generation > kMaxGeneration) {
    return InvalidArgumentError("generation out of range");
  }
  std::map<std::string_view, std::string> kv;
  if (version == MetadataVersion::kV5) {
    kv["CAP"] = std::to_string(md.capacity);
    kv["SEQ"] = std::to_string(md.sequence);
  } else {
    kv["SIZE"] = std::to_string(md.capacity / 512);
    kv["MTIME"] = "0";
  }
  kv["CTIME"] = std::to_string(md.ctime);
  kv["DESCRIPTION"] = TruncateUtf8(md.description, kMaxDescriptionChars);
  kv["DISKTYPE"] = md.disk_type;
  kv["DOMAIN"] = md.domain;
  kv["FORMAT"] = ToString(md.format);
  kv["GEN"] = std::to_string(md.generation);
  kv["IMAGE"] = md.image;
  kv["LEGALITY"] = ToString(md.legality);
  kv["PUUID"] = md.parent;
  kv["TYPE"] = ToString(md.allocation);
  kv["VOLTYPE"] = ToString(md.role);
  std::string out;
  for (const auto& [k, v] : kv) {
    out.append(k);
    out += '=';
    out += v;
    out += '\n';
  }
  out += "EOF\n";
  if (out.size() > kVolumeMetadataSize) {
    return Status(Code::kDataLoss,
                  "volume metadata is " + std::to_string(out.size()) +
                      " bytes, more than " +
                      std::to_string(kVolumeMetadataSize),
                  storage_code::kMetadataOverflow);
  }
  return out;
}

Result<VolumeMetadata> DecodeVolumeMetadata(std::string_view bytes) {
  while (!bytes.empty() && bytes.back() == '\0') bytes.remove_suffix(1);
  std::map<std::string, std::string, std::less<>> kv;
  bool saw_eof = false;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t nl = bytes.find('\n', start);
    size_t end = nl == std::string_view::npos ? bytes.size() : nl;
    std::string_view line = bytes.substr(start, end - start);
    start = end + 1;
    if (line.starts_with("EOF")) {
      saw_eof = true;
      break;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;  // oVirt skips such lines.
    std::string key(Trim(line.substr(0, eq)));
    std::string value(Trim(line.substr(eq + 1)));
    if (value.find('\0') != std::string::npos || key.find('\0') != std::string::npos) {
      return Corrupt("NUL byte inside a line");
    }
    if (!kv.emplace(key, std::move(value)).second) {
      return Corrupt("duplicate key " + key);
    }
  }
  if (!saw_eof) return Corrupt("no EOF line (torn or truncated write)");
  if (kv.contains("NONE")) {
    return Corrupt("metadata was cleared (NONE marker)");
  }
  static constexpr std::string_view kKnown[] = {
      "CAP",   "CTIME",   "DESCRIPTION", "DISKTYPE", "DOMAIN", "FORMAT",
      "GEN",   "IMAGE",   "LEGALITY",    "PUUID",    "SEQ",    "TYPE",
      "VOLTYPE", "SIZE",  "MTIME"};
  for (const auto& [k, v] : kv) {
    bool known = false;
    for (auto name : kKnown) known = known || name == k;
    if (!known) return Corrupt("unknown key " + k);
  }
  auto get = [&](std::string_view key) -> Result<std::string> {
    auto it = kv.find(key);
    if (it == kv.end()) {
      return Status(Code::kDataLoss,
                    "volume metadata: missing key " + std::string(key),
                    storage_code::kMetaDataKeyNotFound);
    }
    return it->second;
  };
  VolumeMetadata md;
  if (auto cap = kv.find("CAP"); cap != kv.end()) {
    ASSIGN_OR_RETURN(md.capacity, ParseNumber<uint64_t>("CAP", cap->second,
                                                        UINT64_MAX));
  } else {
    ASSIGN_OR_RETURN(std::string size, get("SIZE"));
    ASSIGN_OR_RETURN(uint64_t sectors,
                     ParseNumber<uint64_t>("SIZE", size, UINT64_MAX / 512));
    md.capacity = sectors * 512;
  }
  ASSIGN_OR_RETURN(std::string ctime, get("CTIME"));
  ASSIGN_OR_RETURN(md.ctime, ParseNumber<int64_t>("CTIME", ctime, INT64_MAX));
  ASSIGN_OR_RETURN(md.description, get("DESCRIPTION"));
  ASSIGN_OR_RETURN(md.disk_type, get("DISKTYPE"));
  bool disk_type_known = false;
  for (auto t : kDiskTypes) disk_type_known = disk_type_known || t == md.disk_type;
  if (!disk_type_known) return Corrupt("DISKTYPE=" + md.disk_type + " is not a known value");
  ASSIGN_OR_RETURN(md.domain, get("DOMAIN"));
  ASSIGN_OR_RETURN(std::string format, get("FORMAT"));
  ASSIGN_OR_RETURN(md.format, ParseEnum("FORMAT", format, kFormats));
  if (auto gen = kv.find("GEN"); gen != kv.end()) {
    ASSIGN_OR_RETURN(md.generation, ParseNumber<int>("GEN", gen->second, kMaxGeneration));
  }
  ASSIGN_OR_RETURN(md.image, get("IMAGE"));
  ASSIGN_OR_RETURN(std::string legality, get("LEGALITY"));
  ASSIGN_OR_RETURN(md.legality, ParseEnum("LEGALITY", legality, kLegalities));
  ASSIGN_OR_RETURN(md.parent, get("PUUID"));
  if (auto seq = kv.find("SEQ"); seq != kv.end()) {
    ASSIGN_OR_RETURN(md.sequence, ParseNumber<uint32_t>("SEQ", seq->second, UINT32_MAX));
  }
  ASSIGN_OR_RETURN(std::string type, get("TYPE"));
  ASSIGN_OR_RETURN(md.allocation, ParseEnum("TYPE", type, kAllocations));
  ASSIGN_OR_RETURN(std::string voltype, get("VOLTYPE"));
  ASSIGN_OR_RETURN(md.role, ParseEnum("VOLTYPE", voltype, kRoles));
  return md;
}

}  // namespace sanpool::formats
