// Wire forms of the storage verbs' values, as oVirt engines send and expect
// them (reference §7.2), for agent/storage_methods.cc.
//
// Parsing accepts both of oVirt's spellings where engines use both:
//   size, newSize, initialSize  a decimal string of bytes ("1073741824") or a
//                               JSON integer; anything else, negative values
//                               included, reaches the storage rules, which
//                               give oVirt's codes (229 for <= 0, 1000 else)
//   volFormat, dest_format      4 / 5 / "4" / "5" / "COW" / "RAW"
//   preallocate                 1 / 2 / "1" / "2" / "PREALLOCATED" / "SPARSE"
//   domainType                  1..7 or "NFS", "LOCALFS", "POSIXFS", ...
//   domainClass                 1..3 or "Data", "Iso", "Backup"
//   typeArgs                    "srv:/export" or {"remotePath": "..."}
//   booleans (postZero, force)  true / false / "true" / "false"
// A value that does not parse is kInvalidArgument with storage code 1000
// (oVirt's InvalidParameterException) naming the param.
//
// Results keep oVirt's shapes: sizes and times as decimal strings where
// VDSM sends strings (capacity, apparentsize, truesize, ctime, disktotal,
// diskfree), enums by name.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_AGENT_STORAGE_PARAMS_H_
#define SANPOOL_AGENT_STORAGE_PARAMS_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "domains/file/file_domain.h"
#include "domains/file/file_image.h"
#include "domains/file/file_volume.h"
#include "domains/formats/volume_metadata.h"
#include "domains/qemu_img_json.h"
#include "domains/sd_metadata.h"
#include "domains/volume_rules.h"
#include "spm/task_manager.h"

namespace sanpool::agent {

// Readers of params[name]. REQUIRES for the String getters: the param was
// declared with a string-like type (kString / kUuid), so it is a string when
// present (the registry validated it).
std::string StringParam(const boost::json::object& params,
                        std::string_view name,
                        std::string_view fallback = "");

Result<int64_t> SizeParam(const boost::json::value& value,
                          std::string_view name);
Result<formats::VolumeFormat> VolumeFormatParam(const boost::json::value& value,
                                                std::string_view name);
Result<formats::Allocation> AllocationParam(const boost::json::value& value,
                                            std::string_view name);
Result<formats::Legality> LegalityParam(const boost::json::value& value,
                                        std::string_view name);
Result<DomainType> DomainTypeParam(const boost::json::value& value,
                                   std::string_view name);
Result<DomainClass> DomainClassParam(const boost::json::value& value,
                                     std::string_view name);
// The remote path of a file domain from StorageDomain.create's typeArgs.
Result<std::string> RemotePathParam(const boost::json::value& value,
                                    std::string_view name);
// Absent -> `fallback`.
Result<bool> BoolParam(const boost::json::object& params,
                       std::string_view name, bool fallback);
// A parent id (srcImgUUID, srcVolUUID): absent or "" -> "", else a canonical
// UUID (kInvalidArgument otherwise, no storage code: it is a malformed id).
Result<std::string> OptionalUuidParam(const boost::json::object& params,
                                      std::string_view name);
// The disk type: a string ("DATA") or a legacy integer (2 -> "2").
Result<std::string> DiskTypeParam(const boost::json::object& params,
                                  std::string_view name);

// StorageDomain.create's `version`: absent or kDomainVersion is OK, else
// kInvalidArgument with storage code 394 (unsupported domain version).
Status CheckDomainVersionParam(const boost::json::object& params);

// StorageDomain.create's params, the same for file and block domains: name
// (the description), domainClass, version (CheckDomainVersionParam) and
// maxHosts, into `out` (a file_domain:: or block::CreateDomainParams).
// blockSize is the caller's: the kinds read it differently.
template <typename CreateParams>
Status ParseCreateDomainParams(const boost::json::object& p,
                               CreateParams& out) {
  out.description = StringParam(p, "name");
  ASSIGN_OR_RETURN(out.domain_class,
                   DomainClassParam(p.at("domainClass"), "domainClass"));
  RETURN_IF_ERROR(CheckDomainVersionParam(p));
  if (auto it = p.find("maxHosts"); it != p.end()) {
    out.max_hosts = static_cast<int>(it->value().as_int64());
  }
  return Status::Ok();
}

// Volume.create's params, the same for file and block domains: imageID,
// volumeID, size, volFormat, preallocate, diskType, desc, srcImgUUID,
// srcVolUUID and initialSize into `out` (a file_domain:: or
// block::CreateVolumeParams); then the rules that need no storage
// (domains/volume_rules.h) for `kind`, so bad input fails the call itself.
// Errors: the params' as above, or CheckVolumeRequest's.
template <typename CreateParams>
Status ParseCreateVolumeParams(const boost::json::object& p, DomainKind kind,
                               CreateParams& out) {
  out.img_uuid = StringParam(p, "imageID");
  out.vol_uuid = StringParam(p, "volumeID");
  ASSIGN_OR_RETURN(out.capacity, SizeParam(p.at("size"), "size"));
  ASSIGN_OR_RETURN(out.format,
                   VolumeFormatParam(p.at("volFormat"), "volFormat"));
  ASSIGN_OR_RETURN(out.allocation,
                   AllocationParam(p.at("preallocate"), "preallocate"));
  ASSIGN_OR_RETURN(out.disk_type, DiskTypeParam(p, "diskType"));
  out.description = StringParam(p, "desc");
  ASSIGN_OR_RETURN(out.src_img_uuid, OptionalUuidParam(p, "srcImgUUID"));
  ASSIGN_OR_RETURN(out.src_vol_uuid, OptionalUuidParam(p, "srcVolUUID"));
  if (auto it = p.find("initialSize"); it != p.end()) {
    ASSIGN_OR_RETURN(out.initial_size, SizeParam(it->value(), "initialSize"));
  }
  const bool has_parent =
      !out.src_vol_uuid.empty() && out.src_vol_uuid != formats::kBlankUuid;
  return CheckVolumeRequest({.kind = kind,
                             .format = out.format,
                             .allocation = out.allocation,
                             .capacity = out.capacity,
                             .initial_size = out.initial_size,
                             .has_parent = has_parent})
      .status();
}

// Result shapes.
boost::json::object DomainInfoJson(const file_domain::DomainInfo& info);
boost::json::object DomainStatsJson(const file_domain::DomainStats& stats);
boost::json::object VolumeInfoJson(const file_domain::VolumeInfo& info);
boost::json::object VolumeSizeJson(const file_domain::VolumeSize& size);
boost::json::object QemuImageInfoJson(const QemuImgInfo& info);
boost::json::object MeasureJson(const QemuImgMeasure& measure);
boost::json::object PreparedImageJson(const file_domain::PreparedImage& image,
                                      std::string_view sd_uuid,
                                      std::string_view img_uuid);
// Task.getStatus: {taskID, taskState, taskResult, code, message, progress};
// taskState is oVirt's deprecated view (queued reads "running").
boost::json::object TaskStatusJson(const spm::TaskRecord& task);
// Task.getInfo: {id, verb, state, tags, progress, startTime, endTime}.
boost::json::object TaskInfoJson(const spm::TaskRecord& task);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_STORAGE_PARAMS_H_
