#include "agent/storage_methods.h"

#include <boost/json/array.hpp>
#include <memory>
#include <utility>

#include "agent/storage_params.h"
#include "agent/task_undo.h"
#include "domains/storage_errors.h"
#include "domains/volume_rules.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

using Params = json::object;
using BundlePtr = std::shared_ptr<FileDomainBundle>;

// ---- param specs ----------------------------------------------------------

ParamSpec UuidParam(std::string name, std::string description,
                    Presence presence = Presence::kRequired) {
  return ParamSpec{.name = std::move(name),
                   .type = ParamType::kUuid,
                   .presence = presence,
                   .description = std::move(description)};
}

ParamSpec AnyParam(std::string name, std::string description,
                   Presence presence = Presence::kRequired) {
  return ParamSpec{.name = std::move(name),
                   .type = ParamType::kAny,
                   .presence = presence,
                   .description = std::move(description)};
}

ParamSpec TextParam(std::string name, std::string description, size_t max,
                    Presence presence = Presence::kOptional) {
  return ParamSpec{.name = std::move(name),
                   .type = ParamType::kString,
                   .presence = presence,
                   .description = std::move(description),
                   .max_length = max};
}

// Image.prepare/teardown: a reader's reference (block domains; file domains
// have no per-host mapping to count).
ParamSpec ReadonlyParam() {
  return ParamSpec{.name = "readonly", .type = ParamType::kBool,
                   .presence = Presence::kOptional,
                   .description = "Block domains: as a reader (the top volume "
                                  "mapped shared; any number of readers next "
                                  "to the one writer); teardown drops a "
                                  "reader's reference. Default false: the "
                                  "writer. Ignored on file domains"};
}

ParamSpec Sd() { return UuidParam("storagedomainID", "Storage domain UUID"); }
ParamSpec Sp() {
  return UuidParam("storagepoolID", "Storage pool UUID (ignored until pools)",
                   Presence::kOptional);
}
ParamSpec Img() { return UuidParam("imageID", "Image UUID"); }
ParamSpec Vol() { return UuidParam("volumeID", "Volume UUID"); }
std::vector<ParamSpec> VolumeIds() { return {Sd(), Sp(), Img(), Vol()}; }
std::vector<ParamSpec> DeleteFlags() {
  return {AnyParam("postZero", "Zero before delete (ignored on file domains)",
                   Presence::kOptional),
          AnyParam("force", "Accepted for compatibility", Presence::kOptional),
          AnyParam("discard", "Ignored on file domains", Presence::kOptional)};
}

// ---- helpers --------------------------------------------------------------

Status NotStarted() {
  return UnavailableError("storage services are not started");
}

Status RequireSpm(const StorageServices* s) {
  if (s->role == nullptr) return NotStarted();
  return s->role->RequireSpm();
}

Result<BundlePtr> Domain(const StorageServices* s, const Params& p) {
  if (s->domains == nullptr) return NotStarted();
  return s->domains->Get(StringParam(p, "storagedomainID"));
}

// The per-domain SPM rule (spm/role.h RequireSpmOf) on the POOL_UUID of
// the domain's metadata.
Status RequireSpmOf(const StorageServices* s, const FileDomainBundle& d) {
  if (s->role == nullptr) return NotStarted();
  ASSIGN_OR_RETURN(file_domain::DomainInfo info, d.domain->GetInfo());
  return s->role->RequireSpmOf(d.sd_uuid(),
                               info.pool.empty() ? "" : info.pool.front());
}

// The domain of an SPM-only verb: RequireSpm() before anything is read,
// then the lookup and the per-domain rule.
Result<BundlePtr> SpmDomain(const StorageServices* s, const Params& p,
                            std::string_view param = "storagedomainID") {
  RETURN_IF_ERROR(RequireSpm(s));
  if (s->domains == nullptr) return NotStarted();
  ASSIGN_OR_RETURN(BundlePtr d, s->domains->Get(StringParam(p, param)));
  RETURN_IF_ERROR(RequireSpmOf(s, *d));
  return d;
}

Result<json::value> Schedule(const StorageServices* s, std::string verb,
                             spm::Job job) {
  if (s->tasks == nullptr) return NotStarted();
  ASSIGN_OR_RETURN(std::string id,
                   s->tasks->Schedule(std::move(verb), {"spm"},
                                      std::move(job)));
  return json::value(id);
}

json::value Null() { return json::value(nullptr); }

// Whether the volume's `.meta` (its commit point) exists.
Result<bool> VolumeExists(const FileDomainBundle& d, std::string_view img,
                          std::string_view vol) {
  ASSIGN_OR_RETURN(file_domain::VolumePaths paths,
                   d.domain->layout().Volume(img, vol));
  return d.domain->env().Exists(paths.meta);
}

json::value Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

Status Add(MethodRegistry& registry, std::string name,
           std::string description, std::vector<ParamSpec> params,
           std::string result, MethodHandler handler) {
  return registry.Register(MethodSpec{
      .name = std::move(name),
      .description = std::move(description),
      .params = std::move(params),
      .result_description = std::move(result),
      .execution = Execution::kWorker,
      .handler = std::move(handler),
  });
}

template <typename F>
MethodHandler Handler(const StorageServices* s, F f) {
  return [s, f = std::move(f)](const Params& p, const CallContext&)
             -> Result<json::value> { return f(s, p); };
}

// ---- StorageDomain.* ------------------------------------------------------

Result<json::value> CreateDomain(const StorageServices* s, const Params& p) {
  if (s->domains == nullptr) return NotStarted();
  file_domain::CreateDomainParams params;
  params.sd_uuid = StringParam(p, "storagedomainID");
  ASSIGN_OR_RETURN(params.type, DomainTypeParam(p.at("domainType"),
                                                "domainType"));
  if (!IsFileDomainType(params.type)) {
    return Status(Code::kUnimplemented,
                  "block domains are not served yet: " +
                      std::string(ToString(params.type)),
                  storage_code::kUnsupportedOperation);
  }
  ASSIGN_OR_RETURN(params.remote_path,
                   RemotePathParam(p.at("typeArgs"), "typeArgs"));
  RETURN_IF_ERROR(ParseCreateDomainParams(p, params));
  if (auto it = p.find("blockSize"); it != p.end()) {
    params.block_size = static_cast<uint32_t>(it->value().as_int64());
  }
  RETURN_IF_ERROR(s->domains->Create(params).status());
  return Null();
}

Status RegisterDomainMethods(MethodRegistry& r, const StorageServices* s) {
  RETURN_IF_ERROR(Add(
      r, "StorageDomain.create",
      "Creates a file storage domain in the mount dir of its connection "
      "(<repository>/mnt/<escaped remote path>, made by "
      "connectStorageServer). Not SPM-gated (oVirt HSM verb).",
      {Sd(),
       AnyParam("domainType", "1 NFS, 4 LOCALFS, 6 POSIXFS, 7 GLUSTERFS "
                              "(or the name)"),
       AnyParam("typeArgs", "The connection's remote path (\"srv:/export\" "
                            "or the local path), or {\"remotePath\": ...}"),
       TextParam("name", "Description (at most 50 characters)", 1024,
                 Presence::kRequired),
       AnyParam("domainClass", "1 Data, 2 Iso, 3 Backup (or the name)"),
       ParamSpec{.name = "version", .type = ParamType::kInt,
                 .presence = Presence::kOptional,
                 .description = "Domain format version (only 5)"},
       ParamSpec{.name = "blockSize", .type = ParamType::kInt,
                 .presence = Presence::kOptional,
                 .description = "0 (probe), 512 or 4096", .min = 0,
                 .max = 4096},
       ParamSpec{.name = "maxHosts", .type = ParamType::kInt,
                 .presence = Presence::kOptional,
                 .description = "Hosts the leases are sized for", .min = 1,
                 .max = kMaxHosts}},
      "`null`", Handler(s, CreateDomain)));
  RETURN_IF_ERROR(Add(
      r, "StorageDomain.format",
      "Removes an unattached file domain (391 while attached). Not "
      "SPM-gated (oVirt HSM verb); waits for operations on the domain.",
      {Sd(), AnyParam("autoDetach", "Accepted for compatibility",
                      Presence::kOptional)},
      "`null`", Handler(s, [](const StorageServices* s, const Params& p)
                               -> Result<json::value> {
        if (s->domains == nullptr) return NotStarted();
        RETURN_IF_ERROR(s->domains->Format(StringParam(p, "storagedomainID")));
        return Null();
      })));
  RETURN_IF_ERROR(Add(
      r, "StorageDomain.getInfo", "The domain's metadata.", {Sd()},
      "object: `uuid`, `type`, `class`, `name`, `role`, `pool`, `version`, "
      "`block_size`, `alignment`, `remotePath`",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto info, d->domain->GetInfo());
        return json::value(DomainInfoJson(info));
      })));
  RETURN_IF_ERROR(Add(
      r, "StorageDomain.getStats", "Space of the domain's file system.",
      {Sd()},
      "object: `disktotal`, `diskfree` (byte strings), `mdasize`, `mdafree`, "
      "`mdavalid`, `mdathreshold`",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto stats, d->domain->GetStats());
        return json::value(DomainStatsJson(stats));
      })));
  RETURN_IF_ERROR(Add(
      r, "StorageDomain.getImages", "Image UUIDs in the domain.",
      {Sd(), Sp()}, "array of image UUIDs (sorted)",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto images, d->domain->GetImages());
        return Strings(images);
      })));
  RETURN_IF_ERROR(Add(
      r, "StorageDomain.getVolumes", "Volume UUIDs of an image (268 if none).",
      {Sd(), Sp(), Img()}, "array of volume UUIDs (sorted)",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto vols,
                         d->domain->GetVolumes(StringParam(p, "imageID")));
        return Strings(vols);
      })));
  return Add(
      r, "StorageDomain.validate",
      "Checks the domain tree (371 naming what is missing).", {Sd()},
      "`null`",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        RETURN_IF_ERROR(d->domain->Validate());
        return Null();
      }));
}

// ---- Volume.* ---------------------------------------------------------------

Result<json::value> CreateVolume(const StorageServices* s, const Params& p) {
  RETURN_IF_ERROR(RequireSpm(s));
  file_domain::CreateVolumeParams params;
  // The rules that need no storage, so bad input fails the call itself;
  // the parent's rules are the job's (FileVolumes::Create checks all again).
  RETURN_IF_ERROR(ParseCreateVolumeParams(p, DomainKind::kFile, params));
  ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
  return Schedule(s, "Volume.create",
                  [d, params](spm::JobContext& ctx) -> Status {
                    RETURN_IF_ERROR(ctx.token().CheckCancelled("Volume.create"));
                    // The undo (next SPM) must never remove a volume that
                    // existed before: an existing one fails Create (212).
                    ASSIGN_OR_RETURN(bool exists,
                                     VolumeExists(*d, params.img_uuid,
                                                  params.vol_uuid));
                    if (!exists) {
                      RETURN_IF_ERROR(ctx.AddRecovery(RemoveVolumeStep(
                          d->sd_uuid(), params.img_uuid, params.vol_uuid)));
                    }
                    return d->volumes->Create(params);
                  });
}

Result<json::value> ExtendVolume(const StorageServices* s, const Params& p) {
  RETURN_IF_ERROR(RequireSpm(s));
  ASSIGN_OR_RETURN(int64_t new_size, SizeParam(p.at("newSize"), "newSize"));
  RETURN_IF_ERROR(CheckCapacity(new_size).status());
  ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
  std::string img = StringParam(p, "imageID");
  std::string vol = StringParam(p, "volumeID");
  return Schedule(s, "Volume.extendSize",
                  [d, img, vol, new_size](spm::JobContext& ctx) -> Status {
                    RETURN_IF_ERROR(
                        ctx.token().CheckCancelled("Volume.extendSize"));
                    return d->volumes->ExtendSize(img, vol, new_size);
                  });
}

Result<json::value> DeleteVolume(const StorageServices* s, const Params& p) {
  RETURN_IF_ERROR(RequireSpm(s));
  RETURN_IF_ERROR(BoolParam(p, "postZero", false).status());
  RETURN_IF_ERROR(BoolParam(p, "force", false).status());
  ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
  std::string img = StringParam(p, "imageID");
  std::string vol = StringParam(p, "volumeID");
  return Schedule(s, "Volume.delete",
                  [d, img, vol](spm::JobContext& ctx) -> Status {
                    RETURN_IF_ERROR(ctx.token().CheckCancelled("Volume.delete"));
                    // A started delete is finished by the next SPM.
                    RETURN_IF_ERROR(ctx.AddRecovery(
                        RemoveVolumeStep(d->sd_uuid(), img, vol)));
                    return d->volumes->Delete(img, vol);
                  });
}

Status RegisterVolumeMethods(MethodRegistry& r, const StorageServices* s) {
  std::vector<ParamSpec> create = {
      Vol(), Sp(), Sd(), Img(),
      AnyParam("size", "Capacity in bytes: a decimal string or an integer; a "
                       "multiple of 512, at most 8 EiB (rounded up to 4 KiB)"),
      AnyParam("volFormat", "4 COW (qcow2) or 5 RAW (or the name)"),
      AnyParam("preallocate", "1 PREALLOCATED or 2 SPARSE (or the name)"),
      AnyParam("diskType", "DATA, ISOF, MEMD, ... (default DATA)",
               Presence::kOptional),
      TextParam("desc", "Description (truncated to 210 characters)", 4096),
      TextParam("srcImgUUID", "Parent's image (blank/absent: none)", 36),
      TextParam("srcVolUUID", "Parent volume (blank/absent: none)", 36),
      AnyParam("initialSize", "Initial allocation in bytes (RAW "
                              "PREALLOCATED only on file domains)",
               Presence::kOptional)};
  RETURN_IF_ERROR(Add(
      r, "Volume.create",
      "SPM, async: creates a volume (a base, or a COW snapshot of "
      "srcVolUUID; a template parent from another image is hard-linked).",
      std::move(create), "task UUID", Handler(s, CreateVolume)));
  RETURN_IF_ERROR(Add(
      r, "Volume.getInfo", "The volume's metadata and sizes.", VolumeIds(),
      "object: `uuid`, `type`, `format`, `disktype`, `voltype`, `capacity`, "
      "`parent`, `description`, `pool`, `domain`, `image`, `ctime`, "
      "`mtime`, `legality`, `generation`, `sequence`, `apparentsize`, "
      "`truesize`, `status`, `children`, `lease` {path, offset, owners, "
      "version}",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto info,
                         d->volumes->GetInfo(StringParam(p, "imageID"),
                                             StringParam(p, "volumeID")));
        return json::value(VolumeInfoJson(info));
      })));
  RETURN_IF_ERROR(Add(
      r, "Volume.getSize", "Apparent and allocated size.", VolumeIds(),
      "object: `apparentsize`, `truesize` (byte strings)",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto size,
                         d->volumes->GetSize(StringParam(p, "imageID"),
                                             StringParam(p, "volumeID")));
        return json::value(VolumeSizeJson(size));
      })));
  std::vector<ParamSpec> describe = VolumeIds();
  describe.push_back(TextParam("description", "New description (truncated "
                               "to 210 characters)", 4096,
                               Presence::kRequired));
  RETURN_IF_ERROR(Add(
      r, "Volume.setDescription", "SPM: sets the description.",
      std::move(describe), "`null`",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        RETURN_IF_ERROR(RequireSpm(s));
        ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
        RETURN_IF_ERROR(d->volumes->SetDescription(
            StringParam(p, "imageID"), StringParam(p, "volumeID"),
            StringParam(p, "description")));
        return Null();
      })));
  std::vector<ParamSpec> legality = VolumeIds();
  legality.push_back(AnyParam("legality", "LEGAL or ILLEGAL"));
  RETURN_IF_ERROR(Add(
      r, "Volume.setLegality", "SPM: marks the volume LEGAL or ILLEGAL.",
      std::move(legality), "`null`",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        RETURN_IF_ERROR(RequireSpm(s));
        ASSIGN_OR_RETURN(auto legal,
                         LegalityParam(p.at("legality"), "legality"));
        ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
        RETURN_IF_ERROR(d->volumes->SetLegality(
            StringParam(p, "imageID"), StringParam(p, "volumeID"), legal));
        return Null();
      })));
  std::vector<ParamSpec> extend = VolumeIds();
  extend.push_back(AnyParam("newSize", "New capacity in bytes (grow only; "
                                       "rounded up to 4 KiB)"));
  RETURN_IF_ERROR(Add(r, "Volume.extendSize",
                      "SPM, async: grows the virtual size (LEAF only).",
                      std::move(extend), "task UUID",
                      Handler(s, ExtendVolume)));
  std::vector<ParamSpec> del = VolumeIds();
  for (ParamSpec& flag : DeleteFlags()) del.push_back(std::move(flag));
  RETURN_IF_ERROR(Add(
      r, "Volume.delete",
      "SPM, async: deletes a volume (204 with children, 223 for a template "
      "in use).",
      std::move(del), "task UUID", Handler(s, DeleteVolume)));
  RETURN_IF_ERROR(Add(
      r, "Volume.getQemuImageInfo",
      "qemu-img info of the volume (format from its metadata).", VolumeIds(),
      "object: `format`, `virtualsize`, `actualsize`?, `clustersize`?, "
      "`backingfile`?, `backingformat`?, `compat`?",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto info, d->volumes->GetQemuImageInfo(
                                        StringParam(p, "imageID"),
                                        StringParam(p, "volumeID")));
        return json::value(QemuImageInfoJson(info));
      })));
  std::vector<ParamSpec> measure = VolumeIds();
  measure.push_back(AnyParam("dest_format", "4 COW or 5 RAW (or the name)"));
  return Add(
      r, "Volume.measure", "The size the volume needs in `dest_format`.",
      std::move(measure),
      "object: `required`, `fully-allocated`, `bitmaps`? (bytes)",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(auto format,
                         VolumeFormatParam(p.at("dest_format"), "dest_format"));
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(auto m, d->volumes->Measure(StringParam(p, "imageID"),
                                                     StringParam(p, "volumeID"),
                                                     format));
        return json::value(MeasureJson(m));
      }));
}

// ---- Image.* ----------------------------------------------------------------

Result<json::value> CopyImage(const StorageServices* s, const Params& p) {
  RETURN_IF_ERROR(RequireSpm(s));
  if (s->copier == nullptr) return NotStarted();
  file_domain::CopyOptions options;
  ASSIGN_OR_RETURN(bool collapse, BoolParam(p, "collapse", false));
  options.mode = collapse ? file_domain::CopyMode::kCollapse
                          : file_domain::CopyMode::kPreserveChain;
  options.top_vol = StringParam(p, "volumeID");
  if (collapse) {
    ASSIGN_OR_RETURN(options.collapse.vol_uuid,
                     OptionalUuidParam(p, "dstVolUUID"));
    if (options.collapse.vol_uuid.empty()) {
      return InvalidParameter("params.dstVolUUID: required with collapse");
    }
    if (auto it = p.find("volFormat"); it != p.end()) {
      ASSIGN_OR_RETURN(options.collapse.format,
                       VolumeFormatParam(it->value(), "volFormat"));
    }
    if (auto it = p.find("preallocate"); it != p.end()) {
      ASSIGN_OR_RETURN(options.collapse.allocation,
                       AllocationParam(it->value(), "preallocate"));
    }
  }
  ASSIGN_OR_RETURN(BundlePtr src, Domain(s, p));
  ASSIGN_OR_RETURN(BundlePtr dst, SpmDomain(s, p, "dstSdUUID"));
  std::string src_img = StringParam(p, "imageID");
  std::string dst_img = StringParam(p, "dstImgUUID");
  file_domain::ImageCopier* copier = s->copier;
  return Schedule(
      s, "Image.copy",
      [copier, src, dst, src_img, dst_img,
       options](spm::JobContext& ctx) -> Status {
        RETURN_IF_ERROR(ctx.token().CheckCancelled("Image.copy"));
        // A new destination image is removed if this SPM dies mid-copy.
        ASSIGN_OR_RETURN(std::string dst_dir,
                         dst->domain->layout().ImageDir(dst_img));
        ASSIGN_OR_RETURN(bool dst_exists, dst->domain->env().Exists(dst_dir));
        if (!dst_exists) {
          RETURN_IF_ERROR(
              ctx.AddRecovery(RemoveImageStep(dst->sd_uuid(), dst_img)));
        }
        return copier->Copy(
            {.domain = src->domain.get(), .volumes = src->volumes.get(),
             .img = src_img},
            {.domain = dst->domain.get(), .volumes = dst->volumes.get(),
             .img = dst_img},
            options,
            [&ctx](double pct) { ctx.SetProgress(static_cast<int>(pct)); },
            ctx.token());
      });
}

Status RegisterImageMethods(MethodRegistry& r, const StorageServices* s) {
  std::vector<ParamSpec> del = {Img(), Sp(), Sd()};
  for (ParamSpec& flag : DeleteFlags()) del.push_back(std::move(flag));
  RETURN_IF_ERROR(Add(
      r, "Image.delete",
      "SPM, async: deletes an image (renamed to _remove_me_<img>, then "
      "purged).",
      std::move(del), "task UUID",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        RETURN_IF_ERROR(RequireSpm(s));
        RETURN_IF_ERROR(BoolParam(p, "postZero", false).status());
        ASSIGN_OR_RETURN(BundlePtr d, SpmDomain(s, p));
        std::string img = StringParam(p, "imageID");
        return Schedule(s, "Image.delete",
                        [d, img](spm::JobContext& ctx) -> Status {
                          RETURN_IF_ERROR(
                              ctx.token().CheckCancelled("Image.delete"));
                          // A started delete is finished by the next SPM.
                          RETURN_IF_ERROR(ctx.AddRecovery(
                              RemoveImageStep(d->sd_uuid(), img)));
                          Status st = d->images->Delete(img);
                          // 256: renamed but not purged; recovery purges it.
                          if (st.storage_code() ==
                              storage_code::kImageDeleteError) {
                            ctx.MarkNotRolledBack();
                          }
                          return st;
                        });
      })));
  RETURN_IF_ERROR(Add(
      r, "Image.prepare",
      "Makes the volume's chain usable on this host: returns a path whose "
      "backing files resolve, and each chain volume's lease.",
      {Sp(), Sd(), Img(), Vol(),
       ParamSpec{.name = "allowIllegal", .type = ParamType::kBool,
                 .presence = Presence::kOptional,
                 .description = "Accept ILLEGAL volumes (default false)"},
       ReadonlyParam()},
      "object: `path`, `info` {type, path}, `imgVolumesInfo` [{domainID, "
      "imageID, volumeID, path, leasePath, leaseOffset}] (top first)",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        ASSIGN_OR_RETURN(bool allow, BoolParam(p, "allowIllegal", false));
        std::string img = StringParam(p, "imageID");
        ASSIGN_OR_RETURN(auto prepared,
                         d->images->Prepare(
                             img, StringParam(p, "volumeID"),
                             allow ? file_domain::IllegalVolumes::kAllow
                                   : file_domain::IllegalVolumes::kRefuse));
        return json::value(PreparedImageJson(prepared, d->sd_uuid(), img));
      })));
  RETURN_IF_ERROR(Add(
      r, "Image.teardown", "Undoes Image.prepare (idempotent).",
      {Sp(), Sd(), Img(), UuidParam("volumeID", "Ignored", Presence::kOptional),
       ReadonlyParam()},
      "`null`",
      Handler(s, [](const StorageServices* s, const Params& p)
                     -> Result<json::value> {
        ASSIGN_OR_RETURN(BundlePtr d, Domain(s, p));
        RETURN_IF_ERROR(d->images->Teardown(StringParam(p, "imageID")));
        return Null();
      })));
  return Add(
      r, "Image.copy",
      "SPM, async: copies an image to another image of this or another "
      "domain, keeping its chain, or collapsed into one volume; reports "
      "progress and stops on Task.stop.",
      {Sp(), Sd(), Img(), UuidParam("dstSdUUID", "Destination domain"),
       UuidParam("dstImgUUID", "Destination image (new or empty)"),
       UuidParam("volumeID", "Top volume to copy from (default: the leaf)",
                 Presence::kOptional),
       ParamSpec{.name = "collapse", .type = ParamType::kBool,
                 .presence = Presence::kOptional,
                 .description = "One volume holding the whole chain"},
       TextParam("dstVolUUID", "The collapsed volume's UUID", 36),
       AnyParam("volFormat", "Collapsed volume format (default COW)",
                Presence::kOptional),
       AnyParam("preallocate", "Collapsed volume allocation (default SPARSE)",
                Presence::kOptional)},
      "task UUID", Handler(s, CopyImage));
}

}  // namespace

Status RegisterStorageMethods(MethodRegistry& registry,
                              const StorageServices* services) {
  RETURN_IF_ERROR(RegisterDomainMethods(registry, services));
  RETURN_IF_ERROR(RegisterVolumeMethods(registry, services));
  return RegisterImageMethods(registry, services);
}

}  // namespace sanpool::agent
