#include "agent/block_methods.h"

#include <boost/json/array.hpp>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/storage_params.h"
#include "base/uuid.h"
#include "domains/block/block_layout.h"
#include "domains/storage_errors.h"
#include "domains/volume_rules.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

using Params = json::object;
using BundlePtr = std::shared_ptr<BlockDomainBundle>;

struct Services {
  const StorageServices* storage;
  const BlockServices* block;
};

using BlockHandler =
    std::function<Result<json::value>(const Services&, const Params&)>;

Status NotStarted() {
  return UnavailableError("block storage services are not started");
}

Status RequireSpm(const Services& s) {
  if (s.storage->role == nullptr) return NotStarted();
  return s.storage->role->RequireSpm();
}

Result<BundlePtr> Domain(const Services& s, const Params& p) {
  if (s.block->domains == nullptr) return NotStarted();
  return s.block->domains->Get(StringParam(p, "storagedomainID"));
}

// The domain of an SPM-only verb: RequireSpm() before anything is read,
// then the lookup and the per-domain rule (spm/role.h RequireSpmOf) on the
// POOL_UUID of the domain's VG tags.
Result<BundlePtr> SpmDomain(const Services& s, const Params& p) {
  RETURN_IF_ERROR(RequireSpm(s));
  ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
  ASSIGN_OR_RETURN(block::BlockDomainInfo info, d->domain->GetInfo());
  RETURN_IF_ERROR(s.storage->role->RequireSpmOf(
      d->sd_uuid(), info.pool.empty() ? "" : info.pool.front()));
  return d;
}

Result<json::value> Schedule(const Services& s, std::string verb,
                             spm::Job job) {
  if (s.storage->tasks == nullptr) return NotStarted();
  ASSIGN_OR_RETURN(std::string id, s.storage->tasks->Schedule(
                                       std::move(verb), {"spm"},
                                       std::move(job)));
  return json::value(id);
}

json::value Null() { return json::value(nullptr); }

json::value Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

std::string Img(const Params& p) { return StringParam(p, "imageID"); }
std::string Vol(const Params& p) { return StringParam(p, "volumeID"); }

Result<block::PostZero> PostZeroParam(const Params& p) {
  ASSIGN_OR_RETURN(bool zero, BoolParam(p, "postZero", false));
  return zero ? block::PostZero::kYes : block::PostZero::kNo;
}

// Image.prepare/teardown `readonly`: a reader's reference.
Result<block::ImageAccess> AccessParam(const Params& p) {
  ASSIGN_OR_RETURN(bool readonly, BoolParam(p, "readonly", false));
  return readonly ? block::ImageAccess::kReadOnly
                  : block::ImageAccess::kReadWrite;
}

Result<lvm::Force> ForceParam(const Params& p) {
  ASSIGN_OR_RETURN(bool force, BoolParam(p, "force", false));
  return force ? lvm::Force::kYes : lvm::Force::kNo;
}

// devlist: a JSON array of device path strings, or one comma-separated
// string (as vdsm-client sends it).
Result<lvm::DeviceList> DevListParam(const Params& p) {
  const json::value& v = p.at("devlist");
  lvm::DeviceList out;
  if (v.is_string()) {
    std::string_view text = v.get_string();
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find(',', start);
      if (end == text.npos) end = text.size();
      if (end > start) out.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
  } else if (v.is_array()) {
    for (const json::value& item : v.get_array()) {
      if (!item.is_string()) {
        return InvalidParameter("devlist: device paths are strings");
      }
      out.emplace_back(item.get_string());
    }
  } else {
    return InvalidParameter("devlist: an array of device paths");
  }
  if (out.empty()) return InvalidParameter("devlist: no device");
  return out;
}

// ---- conversions to the file-domain wire shapes -----------------------------

json::value InfoJson(const block::BlockDomainInfo& b) {
  file_domain::DomainInfo info{.uuid = b.uuid,
                               .type = b.type,
                               .domain_class = b.domain_class,
                               .name = b.name,
                               .role = b.role,
                               .pool = b.pool,
                               .version = b.version,
                               .block_size = b.block_size,
                               .alignment = b.alignment,
                               .remote_path = ""};
  json::object out = DomainInfoJson(info);
  out["vguuid"] = b.vg_uuid;
  out["pvs"] = Strings(b.pv_devices);
  return out;
}

json::value StatsJson(const block::BlockDomainStats& b) {
  json::object out = DomainStatsJson({.disk_total = b.disk_total,
                                      .disk_free = b.disk_free,
                                      .mda_size = b.mda_size,
                                      .mda_free = b.mda_free,
                                      .mda_valid = b.mda_valid});
  out["mdathreshold"] = b.mda_threshold;
  return out;
}

json::value VolumeJson(const block::VolumeInfo& b) {
  file_domain::VolumeInfo info{.metadata = b.metadata,
                               .uuid = b.uuid,
                               .apparent_size = b.apparent_size,
                               .true_size = b.true_size,
                               .status = b.status,
                               .children = b.children,
                               .lease_path = b.lease.path};
  json::object out = VolumeInfoJson(info);
  if (auto* lease = out.if_contains("lease"); lease && lease->is_object()) {
    lease->as_object()["offset"] = b.lease.offset;
  }
  return out;
}

json::value PreparedJson(const block::PreparedImage& b, std::string_view sd,
                         std::string_view img) {
  file_domain::PreparedImage image{.path = b.path, .chain = {}};
  for (const block::PreparedVolume& v : b.chain) {
    image.chain.push_back({.vol_uuid = v.vol_uuid,
                           .path = v.path,
                           .target = v.target,
                           .lease_path = ""});
  }
  json::object out = PreparedImageJson(image, sd, img);
  out["info"].as_object()["type"] = "block";
  json::array& vols = out["imgVolumesInfo"].as_array();
  if (!vols.empty()) {  // the requested volume's lease; others have none
    vols[0].as_object()["leasePath"] = b.lease.path;
    vols[0].as_object()["leaseOffset"] = b.lease.offset;
  }
  return out;
}

// ---- block handlers of the existing verbs -----------------------------------

Result<json::value> CreateDomain(const Services& s, const Params& p) {
  if (s.block->domains == nullptr || s.block->lvm == nullptr) {
    return NotStarted();
  }
  block::CreateBlockDomainParams params;
  params.sd_uuid = StringParam(p, "storagedomainID");
  ASSIGN_OR_RETURN(params.type,
                   DomainTypeParam(p.at("domainType"), "domainType"));
  const json::value& type_args = p.at("typeArgs");
  if (!type_args.is_string()) {
    return InvalidParameter("typeArgs: the VG name or uuid");
  }
  std::string vg_ref(type_args.get_string());
  auto vg = s.block->lvm->GetVg(params.sd_uuid);
  if (!vg.ok()) {
    return Status(Code::kNotFound,
                  "no volume group " + params.sd_uuid +
                      " (make it with LVMVolumeGroup.create)",
                  lvm::lvm_code::kVolumeGroupDoesNotExist);
  }
  if (vg_ref != vg->name && vg_ref != vg->uuid) {
    return InvalidParameter("typeArgs: '" + vg_ref +
                            "' is neither the name nor the uuid of VG " +
                            params.sd_uuid);
  }
  RETURN_IF_ERROR(ParseCreateDomainParams(p, params));
  if (auto it = p.find("blockSize"); it != p.end()) {
    int64_t size = it->value().as_int64();
    if (size != 0) params.block_size = static_cast<uint32_t>(size);
  }
  RETURN_IF_ERROR(s.block->domains->Create(params).status());
  return Null();
}

Result<json::value> CreateVolume(const Services& s, const Params& p) {
  RETURN_IF_ERROR(RequireSpm(s));
  block::CreateVolumeParams params;
  RETURN_IF_ERROR(ParseCreateVolumeParams(p, DomainKind::kBlock, params));
  ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
  return Schedule(s, "Volume.create",
                  [d, params](spm::JobContext& ctx) -> Status {
                    RETURN_IF_ERROR(ctx.token().CheckCancelled("Volume.create"));
                    return d->volumes->Create(params);
                  });
}

std::map<std::string, BlockHandler> BlockHandlers() {
  std::map<std::string, BlockHandler> h;
  h["StorageDomain.create"] = CreateDomain;
  h["StorageDomain.format"] = [](const Services& s,
                                 const Params& p) -> Result<json::value> {
    if (s.block->domains == nullptr) return NotStarted();
    RETURN_IF_ERROR(
        s.block->domains->Format(StringParam(p, "storagedomainID")));
    return Null();
  };
  h["StorageDomain.getInfo"] = [](const Services& s,
                                  const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(auto info, d->domain->GetInfo());
    return InfoJson(info);
  };
  h["StorageDomain.getStats"] = [](const Services& s,
                                   const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(auto stats, d->domain->GetStats());
    return StatsJson(stats);
  };
  h["StorageDomain.getImages"] = [](const Services& s,
                                    const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(auto images, d->domain->GetImages());
    return Strings(images);
  };
  h["StorageDomain.getVolumes"] = [](const Services& s,
                                     const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(auto vols, d->domain->GetVolumes(Img(p)));
    return Strings(vols);
  };
  h["StorageDomain.validate"] = [](const Services& s,
                                   const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    RETURN_IF_ERROR(d->domain->Validate());
    return Null();
  };
  h["Volume.create"] = CreateVolume;
  h["Volume.getInfo"] = [](const Services& s,
                           const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(auto info, d->volumes->GetInfo(Img(p), Vol(p)));
    return VolumeJson(info);
  };
  h["Volume.getSize"] = [](const Services& s,
                           const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(auto info, d->volumes->GetInfo(Img(p), Vol(p)));
    return json::value(VolumeSizeJson({.apparent_size = info.apparent_size,
                                       .true_size = info.true_size}));
  };
  h["Volume.setDescription"] = [](const Services& s,
                                  const Params& p) -> Result<json::value> {
    RETURN_IF_ERROR(RequireSpm(s));
    ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
    RETURN_IF_ERROR(d->volumes->SetDescription(
        Img(p), Vol(p), StringParam(p, "description")));
    return Null();
  };
  h["Volume.setLegality"] = [](const Services& s,
                               const Params& p) -> Result<json::value> {
    RETURN_IF_ERROR(RequireSpm(s));
    ASSIGN_OR_RETURN(auto legality,
                     LegalityParam(p.at("legality"), "legality"));
    ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
    RETURN_IF_ERROR(d->volumes->SetLegality(Img(p), Vol(p), legality));
    return Null();
  };
  h["Volume.extendSize"] = [](const Services& s,
                              const Params& p) -> Result<json::value> {
    RETURN_IF_ERROR(RequireSpm(s));
    ASSIGN_OR_RETURN(int64_t new_size, SizeParam(p.at("newSize"), "newSize"));
    RETURN_IF_ERROR(CheckCapacity(new_size).status());
    ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
    std::string img = Img(p), vol = Vol(p);
    return Schedule(s, "Volume.extendSize",
                    [d, img, vol, new_size](spm::JobContext& ctx) -> Status {
                      RETURN_IF_ERROR(
                          ctx.token().CheckCancelled("Volume.extendSize"));
                      return d->volumes->ExtendSize(img, vol, new_size);
                    });
  };
  h["Volume.delete"] = [](const Services& s,
                          const Params& p) -> Result<json::value> {
    RETURN_IF_ERROR(RequireSpm(s));
    ASSIGN_OR_RETURN(block::PostZero zero, PostZeroParam(p));
    RETURN_IF_ERROR(BoolParam(p, "force", false).status());
    ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
    std::string img = Img(p), vol = Vol(p);
    return Schedule(s, "Volume.delete",
                    [d, img, vol, zero](spm::JobContext& ctx) -> Status {
                      RETURN_IF_ERROR(
                          ctx.token().CheckCancelled("Volume.delete"));
                      return d->volumes->Delete(img, vol, zero);
                    });
  };
  h["Image.delete"] = [](const Services& s,
                         const Params& p) -> Result<json::value> {
    RETURN_IF_ERROR(RequireSpm(s));
    ASSIGN_OR_RETURN(block::PostZero zero, PostZeroParam(p));
    ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
    std::string img = Img(p);
    return Schedule(s, "Image.delete",
                    [d, img, zero](spm::JobContext& ctx) -> Status {
                      RETURN_IF_ERROR(
                          ctx.token().CheckCancelled("Image.delete"));
                      return d->images->Delete(img, zero);
                    });
  };
  h["Image.prepare"] = [](const Services& s,
                          const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    ASSIGN_OR_RETURN(bool allow, BoolParam(p, "allowIllegal", false));
    ASSIGN_OR_RETURN(block::ImageAccess access, AccessParam(p));
    std::string img = Img(p);
    ASSIGN_OR_RETURN(auto prepared,
                     d->images->Prepare(img, Vol(p),
                                        allow ? IllegalVolumes::kAllow
                                              : IllegalVolumes::kRefuse,
                                        access));
    return PreparedJson(prepared, d->sd_uuid(), img);
  };
  h["Image.teardown"] = [](const Services& s,
                           const Params& p) -> Result<json::value> {
    ASSIGN_OR_RETURN(block::ImageAccess access, AccessParam(p));
    ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
    RETURN_IF_ERROR(d->images->Teardown(Img(p), access));
    return Null();
  };
  return h;
}

Result<json::value> Unsupported(const std::string& verb) {
  return Status(Code::kUnimplemented, verb + " is not served on block domains",
                storage_code::kUnsupportedOperation);
}

// Whether this call is for a block domain. kCached: a UUID lvm recently
// said is no VG is a file domain without asking lvm again.
bool IsBlockCall(const Services& s, const std::string& verb, const Params& p,
                 VgLookup lookup = VgLookup::kCached) {
  if (s.block->domains == nullptr) return false;
  if (verb == "StorageDomain.create") {
    auto type = DomainTypeParam(p.at("domainType"), "domainType");
    return type.ok() && !IsFileDomainType(*type);
  }
  auto it = p.find("storagedomainID");
  if (it == p.end() || !it->value().is_string()) return false;
  return s.block->domains->IsBlockDomain(it->value().get_string(), lookup);
}

// The file side does not know the domain (358): it may be a VG made since
// lvm was last asked (by another host), so ask lvm now.
bool UnknownToFiles(const Result<json::value>& result) {
  return !result.ok() && result.status().storage_code() ==
                             storage_code::kStorageDomainDoesNotExist;
}

// ---- new verbs ----------------------------------------------------------------

ParamSpec Uuid(std::string name, std::string description) {
  return ParamSpec{.name = std::move(name),
                   .type = ParamType::kUuid,
                   .presence = Presence::kRequired,
                   .description = std::move(description)};
}

ParamSpec AnyParam(std::string name, std::string description,
                   Presence presence) {
  return ParamSpec{.name = std::move(name),
                   .type = ParamType::kAny,
                   .presence = presence,
                   .description = std::move(description)};
}

Status AddNew(MethodRegistry& r, const Services* s, std::string name,
              std::string description, std::vector<ParamSpec> params,
              std::string result, BlockHandler handler) {
  return r.Register(MethodSpec{
      .name = std::move(name),
      .description = std::move(description),
      .params = std::move(params),
      .result_description = std::move(result),
      .execution = Execution::kWorker,
      .handler = [s, handler = std::move(handler)](
                     const Params& p,
                     const CallContext&) -> Result<json::value> {
        return handler(*s, p);
      },
  });
}

Status RegisterNewVerbs(MethodRegistry& r, const Services* s) {
  RETURN_IF_ERROR(AddNew(
      r, s, "LVMVolumeGroup.create",
      "Makes the VG of a future block domain on SAN devices (pvcreate with "
      "a 128 MiB metadata area, vgcreate with 128 MiB extents, tagged "
      "RHAT_storage_domain_UNREADY). Devices must be among lvm.devices "
      "(1000) and hold 10 GiB in all; a device already in a VG is refused "
      "(601) unless force (never for a domain's VG). Not SPM-gated.",
      {Uuid("name", "VG name: the sdUUID of the domain to create"),
       AnyParam("devlist", "Device paths: an array, or one comma-separated "
                           "string",
                Presence::kRequired),
       AnyParam("force", "Reuse devices of a VG that is not a domain",
                Presence::kOptional)},
      "the VG uuid (string)",
      [](const Services& s, const Params& p) -> Result<json::value> {
        if (s.block->domains == nullptr) return NotStarted();
        ASSIGN_OR_RETURN(lvm::DeviceList devices, DevListParam(p));
        ASSIGN_OR_RETURN(lvm::Force force, ForceParam(p));
        ASSIGN_OR_RETURN(std::string uuid,
                         s.block->domains->CreateVolumeGroup(
                             StringParam(p, "name"), devices, force));
        return json::value(uuid);
      }));
  RETURN_IF_ERROR(AddNew(
      r, s, "LVMVolumeGroup.getInfo",
      "A VG on lvm.devices, by name (506 when there is none).",
      {Uuid("vgUUID", "VG name (the sdUUID)")},
      "object: `name`, `uuid`, `size`, `free`, `extentSize` (byte "
      "strings), `pvs` (device paths), `tags`",
      [](const Services& s, const Params& p) -> Result<json::value> {
        if (s.block->lvm == nullptr) return NotStarted();
        auto vg = s.block->lvm->GetVg(StringParam(p, "vgUUID"));
        if (!vg.ok()) {
          return Status(Code::kNotFound, std::string(vg.status().message()),
                        lvm::lvm_code::kVolumeGroupDoesNotExist);
        }
        json::object out;
        out["name"] = vg->name;
        out["uuid"] = vg->uuid;
        out["size"] = std::to_string(vg->size_bytes);
        out["free"] = std::to_string(vg->free_bytes);
        out["extentSize"] = std::to_string(vg->extent_size_bytes);
        out["pvs"] = Strings(vg->pv_names);
        out["tags"] = Strings(vg->tags);
        return json::value(std::move(out));
      }));
  return AddNew(
      r, s, "StorageDomain.extend",
      "SPM: adds devices (among lvm.devices) to a block domain: pvcreate, "
      "vgextend and the domain's PV<n> metadata entry, one device after "
      "the other.",
      {Uuid("storagedomainID", "Block storage domain UUID"),
       ParamSpec{.name = "storagepoolID",
                 .type = ParamType::kUuid,
                 .presence = Presence::kOptional,
                 .description = "Storage pool UUID (ignored)"},
       AnyParam("devlist", "Device paths: an array, or one comma-separated "
                           "string",
                Presence::kRequired),
       AnyParam("force", "Reuse devices of a VG that is not a domain",
                Presence::kOptional)},
      "`null`",
      [](const Services& s, const Params& p) -> Result<json::value> {
        RETURN_IF_ERROR(SpmDomain(s, p).status());
        ASSIGN_OR_RETURN(lvm::DeviceList devices, DevListParam(p));
        ASSIGN_OR_RETURN(lvm::Force force, ForceParam(p));
        for (const std::string& device : devices) {
          RETURN_IF_ERROR(s.block->domains->Extend(
              StringParam(p, "storagedomainID"), device, force));
        }
        return Null();
      });
}

}  // namespace

Status RegisterStorageMethodsWithBlock(MethodRegistry& registry,
                                       const StorageServices* storage,
                                       const BlockServices* block) {
  // Shared by the handlers (the registry keeps them).
  auto owner = std::make_shared<Services>(Services{storage, block});
  MethodRegistry file;
  RETURN_IF_ERROR(RegisterStorageMethods(file, storage));
  std::map<std::string, BlockHandler> handlers = BlockHandlers();
  for (const std::string& name : file.MethodNames()) {
    MethodSpec spec = *file.Find(name);
    bool by_domain = false;
    for (const ParamSpec& param : spec.params) {
      if (param.name == "storagedomainID") by_domain = true;
    }
    if (by_domain) {
      BlockHandler block_handler;
      if (auto it = handlers.find(name); it != handlers.end()) {
        block_handler = it->second;
      } else {
        block_handler = [name](const Services&, const Params&) {
          return Unsupported(name);
        };
      }
      spec.handler = [owner, name, file_handler = spec.handler,
                      block_handler](const Params& p, const CallContext& ctx)
          -> Result<json::value> {
        if (IsBlockCall(*owner, name, p)) return block_handler(*owner, p);
        Result<json::value> result = file_handler(p, ctx);
        if (UnknownToFiles(result) &&
            IsBlockCall(*owner, name, p, VgLookup::kFresh)) {
          return block_handler(*owner, p);
        }
        return result;
      };
    }
    RETURN_IF_ERROR(registry.Register(std::move(spec)));
  }
  return RegisterNewVerbs(registry, owner.get());
}

}  // namespace sanpool::agent
