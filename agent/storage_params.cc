#include "agent/storage_params.h"

#include <boost/json/array.hpp>
#include <charconv>
#include <chrono>
#include <limits>

#include "base/uuid.h"
#include "domains/storage_errors.h"
#include "domains/volume_rules.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

Status Bad(std::string_view name, std::string_view what) {
  return InvalidParameter("params." + std::string(name) + ": " +
                          std::string(what));
}

// An integer from a JSON integer or a decimal string; nullopt otherwise.
std::optional<int64_t> SmallInt(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) return std::nullopt;
  if (value.is_string()) {
    std::string_view s = value.get_string();
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) {
      return out;
    }
  }
  return std::nullopt;
}

std::string_view AsText(const json::value& value) {
  return value.is_string() ? std::string_view(value.get_string())
                           : std::string_view();
}

std::string Str(uint64_t v) { return std::to_string(v); }

int64_t UnixSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
      .count();
}

}  // namespace

std::string StringParam(const json::object& params, std::string_view name,
                        std::string_view fallback) {
  auto it = params.find(name);
  if (it == params.end() || !it->value().is_string()) {
    return std::string(fallback);
  }
  return std::string(it->value().get_string());
}

Result<int64_t> SizeParam(const json::value& value, std::string_view name) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    // Above int64: more than 8 EiB, which no volume may have.
    return Bad(name, "size above the 8 EiB limit");
  }
  if (value.is_string()) return ParseSizeString(value.get_string(), name);
  return Bad(name, "expected a decimal string of bytes or an integer");
}

Result<formats::VolumeFormat> VolumeFormatParam(const json::value& value,
                                                std::string_view name) {
  std::string_view text = AsText(value);
  if (text == "COW") return formats::VolumeFormat::kCow;
  if (text == "RAW") return formats::VolumeFormat::kRaw;
  if (auto id = SmallInt(value); id && (*id == 4 || *id == 5)) {
    return formats::VolumeFormatFromWire(static_cast<int>(*id));
  }
  return Bad(name, "expected 4 (COW) or 5 (RAW)");
}

Result<formats::Allocation> AllocationParam(const json::value& value,
                                            std::string_view name) {
  std::string_view text = AsText(value);
  if (text == "PREALLOCATED") return formats::Allocation::kPreallocated;
  if (text == "SPARSE") return formats::Allocation::kSparse;
  if (auto id = SmallInt(value); id && (*id == 1 || *id == 2)) {
    return formats::AllocationFromWire(static_cast<int>(*id));
  }
  return Bad(name, "expected 1 (PREALLOCATED) or 2 (SPARSE)");
}

Result<formats::Legality> LegalityParam(const json::value& value,
                                        std::string_view name) {
  std::string_view text = AsText(value);
  if (text == "LEGAL") return formats::Legality::kLegal;
  if (text == "ILLEGAL") return formats::Legality::kIllegal;
  return Bad(name, "expected LEGAL or ILLEGAL");
}

Result<DomainType> DomainTypeParam(const json::value& value,
                                   std::string_view name) {
  if (value.is_string()) {
    if (auto t = DomainTypeFromString(value.get_string()); t.ok()) return *t;
  }
  if (auto id = SmallInt(value)) {
    if (*id >= 1 && *id <= 7) {
      if (auto t = DomainTypeFromWire(static_cast<int>(*id)); t.ok()) return *t;
    }
  }
  return Bad(name, "expected a domain type id (1..7) or name");
}

Result<DomainClass> DomainClassParam(const json::value& value,
                                     std::string_view name) {
  if (value.is_string()) {
    if (auto c = DomainClassFromString(value.get_string()); c.ok()) return *c;
  }
  if (auto id = SmallInt(value)) {
    if (*id >= 1 && *id <= 3) {
      if (auto c = DomainClassFromWire(static_cast<int>(*id)); c.ok()) {
        return *c;
      }
    }
  }
  return Bad(name, "expected a domain class id (1..3) or name");
}

Result<std::string> RemotePathParam(const json::value& value,
                                    std::string_view name) {
  if (value.is_string()) return std::string(value.get_string());
  if (value.is_object()) {
    const json::object& obj = value.get_object();
    if (auto it = obj.find("remotePath");
        it != obj.end() && it->value().is_string()) {
      return std::string(it->value().get_string());
    }
  }
  return Bad(name, "expected the remote path or {\"remotePath\": ...}");
}

Result<bool> BoolParam(const json::object& params, std::string_view name,
                       bool fallback) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  const json::value& v = it->value();
  if (v.is_bool()) return v.get_bool();
  std::string_view text = AsText(v);
  if (text == "true") return true;
  if (text == "false") return false;
  return Bad(name, "expected true or false");
}

Result<std::string> OptionalUuidParam(const json::object& params,
                                      std::string_view name) {
  std::string value = StringParam(params, name);
  if (value.empty()) return value;
  RETURN_IF_ERROR(ValidateUuid(value, "params." + std::string(name)));
  return value;
}

Result<std::string> DiskTypeParam(const json::object& params,
                                  std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::string("DATA");
  const json::value& v = it->value();
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_string()) return std::string(v.get_string());
  return Bad(name, "expected a disk type name (DATA, ...)");
}

Status CheckDomainVersionParam(const json::object& params) {
  auto it = params.find("version");
  if (it == params.end() || it->value().as_int64() == kDomainVersion) {
    return Status::Ok();
  }
  return Status(Code::kInvalidArgument,
                "unsupported domain version " +
                    std::to_string(it->value().as_int64()),
                storage_code::kUnsupportedDomainVersion);
}

json::object DomainInfoJson(const file_domain::DomainInfo& info) {
  json::array pool;
  for (const std::string& sp : info.pool) pool.emplace_back(sp);
  json::object out;
  out["uuid"] = info.uuid;
  out["type"] = ToString(info.type);
  out["class"] = ToString(info.domain_class);
  out["name"] = info.name;
  out["role"] = ToString(info.role);
  out["pool"] = std::move(pool);
  out["version"] = std::to_string(info.version);
  out["block_size"] = info.block_size;
  out["alignment"] = info.alignment;
  out["remotePath"] = info.remote_path;
  return out;
}

json::object DomainStatsJson(const file_domain::DomainStats& stats) {
  json::object out;
  out["disktotal"] = Str(stats.disk_total);
  out["diskfree"] = Str(stats.disk_free);
  out["mdasize"] = stats.mda_size;
  out["mdafree"] = stats.mda_free;
  out["mdavalid"] = stats.mda_valid;
  out["mdathreshold"] = true;
  return out;
}

json::object VolumeInfoJson(const file_domain::VolumeInfo& info) {
  const formats::VolumeMetadata& md = info.metadata;
  json::array children;
  for (const std::string& c : info.children) children.emplace_back(c);
  json::object lease;
  lease["path"] = info.lease_path;
  lease["offset"] = 0;
  lease["owners"] = json::array();
  lease["version"] = nullptr;
  json::object out;
  out["uuid"] = info.uuid;
  out["type"] = formats::ToString(md.allocation);
  out["format"] = formats::ToString(md.format);
  out["disktype"] = md.disk_type;
  out["voltype"] = formats::ToString(md.role);
  out["capacity"] = Str(md.capacity);
  out["parent"] = md.parent;
  out["description"] = md.description;
  out["pool"] = "";
  out["domain"] = md.domain;
  out["image"] = md.image;
  out["ctime"] = std::to_string(md.ctime);
  out["mtime"] = "0";
  out["legality"] = formats::ToString(md.legality);
  out["generation"] = md.generation;
  out["sequence"] = md.sequence;
  out["apparentsize"] = Str(info.apparent_size);
  out["truesize"] = Str(info.true_size);
  out["status"] = info.status;
  out["children"] = std::move(children);
  out["lease"] = std::move(lease);
  return out;
}

json::object VolumeSizeJson(const file_domain::VolumeSize& size) {
  json::object out;
  out["apparentsize"] = Str(size.apparent_size);
  out["truesize"] = Str(size.true_size);
  return out;
}

json::object QemuImageInfoJson(const QemuImgInfo& info) {
  json::object out;
  out["format"] = info.format;
  out["virtualsize"] = info.virtual_size;
  if (info.actual_size) out["actualsize"] = *info.actual_size;
  if (info.cluster_size) out["clustersize"] = *info.cluster_size;
  if (info.backing_filename) out["backingfile"] = *info.backing_filename;
  if (info.backing_format) out["backingformat"] = *info.backing_format;
  if (info.compat) out["compat"] = *info.compat;
  return out;
}

json::object MeasureJson(const QemuImgMeasure& measure) {
  json::object out;
  out["required"] = measure.required;
  out["fully-allocated"] = measure.fully_allocated;
  if (measure.bitmaps) out["bitmaps"] = *measure.bitmaps;
  return out;
}

json::object PreparedImageJson(const file_domain::PreparedImage& image,
                               std::string_view sd_uuid,
                               std::string_view img_uuid) {
  json::array volumes;
  for (const file_domain::PreparedVolume& v : image.chain) {
    json::object vol;
    vol["domainID"] = sd_uuid;
    vol["imageID"] = img_uuid;
    vol["volumeID"] = v.vol_uuid;
    vol["path"] = v.path;
    vol["leasePath"] = v.lease_path;
    vol["leaseOffset"] = 0;
    volumes.emplace_back(std::move(vol));
  }
  json::object info;
  info["type"] = "file";
  info["path"] = image.path;
  json::object out;
  out["path"] = image.path;
  out["info"] = std::move(info);
  out["imgVolumesInfo"] = std::move(volumes);
  return out;
}

json::object TaskStatusJson(const spm::TaskRecord& task) {
  std::string_view state = spm::ToString(task.state);
  if (task.state == spm::TaskState::kQueued) state = "running";
  json::object out;
  out["taskID"] = task.id;
  out["taskState"] = state;
  out["taskResult"] = spm::ToString(task.result);
  out["code"] = task.code;
  out["message"] = task.message;
  out["progress"] = task.progress;
  return out;
}

json::object TaskInfoJson(const spm::TaskRecord& task) {
  json::array tags;
  for (const std::string& t : task.tags) tags.emplace_back(t);
  json::object out;
  out["id"] = task.id;
  out["verb"] = task.verb;
  out["state"] = spm::ToString(task.state);
  out["tags"] = std::move(tags);
  out["progress"] = task.progress;
  out["startTime"] = UnixSeconds(task.start_time);
  if (task.end_time) {
    out["endTime"] = UnixSeconds(*task.end_time);
  } else {
    out["endTime"] = nullptr;
  }
  return out;
}

}  // namespace sanpool::agent
