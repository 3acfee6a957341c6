#include "domains/file/image_copy.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/file/fs_util.h"
#include "domains/qemu_img.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

using formats::Legality;
using formats::VolumeFormat;
using formats::VolumeMetadata;
using formats::VolumeRole;

constexpr std::string_view kLog = "image-copy";

bool IsBlankUuid(std::string_view id) {
  return id.empty() || id == formats::kBlankUuid;
}

struct SourceVolume {
  std::string uuid;
  VolumeMetadata md;
  std::string data_path;
  uint64_t weight = 1;
  // A template hard-linked into the image from another image: not copied
  // in kPreserveChain (it must exist in the destination domain).
  bool linked_template = false;
};

// The source chain, base first, read from the `.meta` files directly (no
// FileVolumes call: the caller may hold the image locks, which are not
// reentrant).
Result<std::vector<SourceVolume>> ReadChain(const CopyEndpoint& src,
                                            std::string_view top_vol) {
  const FileDomainLayout& layout = src.domain->layout();
  Env& env = src.domain->env();
  ASSIGN_OR_RETURN(std::vector<std::string> vols,
                   src.domain->GetVolumes(src.img));
  std::set<std::string> in_image(vols.begin(), vols.end());
  std::string top(top_vol);
  if (top.empty()) {
    for (const std::string& vol : vols) {
      ASSIGN_OR_RETURN(VolumePaths paths, layout.Volume(src.img, vol));
      ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(env, paths.meta));
      if (md.role != VolumeRole::kLeaf) continue;
      if (!top.empty()) {
        return InvalidParameter("image " + src.img +
                                " has several leaves; name the top volume");
      }
      top = vol;
    }
    if (top.empty()) {
      return Status(Code::kNotFound, "image " + src.img + " has no leaf",
                    storage_code::kImageIsNotLegalChain);
    }
  }
  if (!in_image.count(top)) {
    return Status(Code::kNotFound,
                  "volume " + top + " does not exist in image " + src.img,
                  storage_code::kVolumeDoesNotExist);
  }
  std::vector<SourceVolume> chain;
  std::set<std::string> seen;
  std::string cur = top;
  while (true) {
    if (!seen.insert(cur).second || !in_image.count(cur)) {
      return Status(Code::kNotFound,
                    "broken chain in image " + src.img + " at volume " + cur,
                    storage_code::kImageIsNotLegalChain);
    }
    ASSIGN_OR_RETURN(VolumePaths paths, layout.Volume(src.img, cur));
    SourceVolume v;
    v.uuid = cur;
    v.data_path = paths.data;
    ASSIGN_OR_RETURN(v.md, ReadVolumeMeta(env, paths.meta));
    if (v.md.legality != Legality::kLegal) {
      return Status(Code::kFailedPrecondition,
                    "source volume " + cur + " is not legal",
                    storage_code::kPrepareIllegalVolume);
    }
    ASSIGN_OR_RETURN(FileStat st, env.Stat(paths.data));
    v.weight = std::max<uint64_t>(st.size, 1);
    v.linked_template =
        v.md.role == VolumeRole::kShared && v.md.image != src.img;
    std::string parent = v.md.parent;
    chain.push_back(std::move(v));
    if (IsBlankUuid(parent)) break;
    cur = parent;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

// Same volumes with the same metadata (the chain has not changed).
bool SameChain(const std::vector<SourceVolume>& a,
               const std::vector<SourceVolume>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].uuid != b[i].uuid || !(a[i].md == b[i].md)) return false;
  }
  return true;
}

// One destination volume to make, and how to fill it.
struct Plan {
  CreateVolumeParams create;
  ImageCopier::ConvertStep step;
  uint64_t weight = 1;
};

// Reports overall progress, never going back, below 100 until Finish().
class ProgressMeter {
 public:
  ProgressMeter(const CopyProgress& sink, uint64_t total)
      : sink_(sink), total_(std::max<uint64_t>(total, 1)) {}

  // `percent` of the volume spanning [done, done + weight) of the total.
  void Volume(uint64_t done, uint64_t weight, double percent) {
    double value = (static_cast<double>(done) +
                    static_cast<double>(weight) * percent / 100.0) *
                   100.0 / static_cast<double>(total_);
    Report(std::min(value, kBelowDone));
  }
  void Finish() { Report(100.0); }

 private:
  static constexpr double kBelowDone = 99.99;
  void Report(double value) {
    if (!sink_ || value <= last_) return;
    last_ = value;
    sink_(value);
  }
  const CopyProgress& sink_;
  uint64_t total_;
  double last_ = -1;
};

}  // namespace

double ParseQemuImgProgress(std::string_view text) {
  // "    (12.34/100%)\r": the last complete one wins.
  size_t end = text.rfind("/100%)");
  if (end == text.npos) return -1;
  size_t open = text.rfind('(', end);
  if (open == text.npos) return -1;
  std::string number(text.substr(open + 1, end - open - 1));
  if (number.empty() ||
      number.find_first_not_of("0123456789.") != number.npos) {
    return -1;
  }
  char* parse_end = nullptr;
  double value = std::strtod(number.c_str(), &parse_end);
  if (parse_end != number.c_str() + number.size()) return -1;
  return std::clamp(value, 0.0, 100.0);
}

ImageCopier::ImageCopier(ProcessRunner& runner, ResourceManager& resources)
    : runner_(runner), resources_(resources) {}

std::vector<std::string> ImageCopier::ConvertArgv(const ConvertStep& step,
                                                  const CopyOptions& options) {
  const std::string cache =
      options.cache == CopyCacheMode::kNone ? "none" : "writeback";
  // -n: FileVolumes created the target (size, compat=1.1 and backing set
  // there; qemu-img refuses -o with -n). -B/-F: only the clusters the
  // source volume itself holds are written, the rest reads through.
  std::vector<std::string> argv = {
      options.qemu_img_binary, "convert", "-p", "-t", cache, "-T", cache,
      "-f", std::string(QemuFormatName(step.source_format)),
      "-O", std::string(QemuFormatName(step.target_format)), "-n"};
  if (!step.backing.empty()) {
    argv.insert(argv.end(),
                {"-B", step.backing, "-F",
                 std::string(QemuFormatName(step.backing_format))});
  }
  argv.push_back(step.source);
  argv.push_back(step.target);
  return argv;
}

namespace {

Result<std::vector<Plan>> MakePlans(const std::vector<SourceVolume>& chain,
                                    const CopyEndpoint& dst,
                                    const CopyOptions& options) {
  const FileDomainLayout& layout = dst.domain->layout();
  std::vector<Plan> plans;
  if (options.mode == CopyMode::kCollapse) {
    const CollapseTarget& target = options.collapse;
    RETURN_IF_ERROR(ValidateUuid(target.vol_uuid, "dstVolUUID"));
    const SourceVolume& top = chain.back();
    Plan plan;
    plan.create = {.img_uuid = dst.img,
                   .vol_uuid = target.vol_uuid,
                   .capacity = static_cast<int64_t>(top.md.capacity),
                   .format = target.format,
                   .allocation = target.allocation,
                   .disk_type = target.disk_type.empty() ? top.md.disk_type
                                                         : target.disk_type,
                   .description = target.description.empty()
                                      ? top.md.description
                                      : target.description,
                   .legality = Legality::kIllegal};
    ASSIGN_OR_RETURN(VolumePaths paths,
                     layout.Volume(dst.img, target.vol_uuid));
    plan.step = {.source = top.data_path,
                 .source_format = top.md.format,
                 .target = paths.data,
                 .target_format = target.format};
    for (const SourceVolume& v : chain) plan.weight += v.weight;
    plans.push_back(std::move(plan));
    return plans;
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const SourceVolume& v = chain[i];
    if (v.linked_template) continue;  // Base only: checked by ReadChain.
    Plan plan;
    plan.create = {.img_uuid = dst.img,
                   .vol_uuid = v.uuid,
                   .capacity = static_cast<int64_t>(v.md.capacity),
                   .format = v.md.format,
                   .allocation = v.md.allocation,
                   .disk_type = v.md.disk_type,
                   .description = v.md.description,
                   .legality = i + 1 == chain.size() ? Legality::kIllegal
                                                     : Legality::kLegal,
                   .sequence = v.md.sequence};
    ASSIGN_OR_RETURN(VolumePaths paths, layout.Volume(dst.img, v.uuid));
    plan.step = {.source = v.data_path,
                 .source_format = v.md.format,
                 .target = paths.data,
                 .target_format = v.md.format};
    if (i > 0) {
      const SourceVolume& parent = chain[i - 1];
      plan.create.src_img_uuid =
          parent.linked_template ? parent.md.image : dst.img;
      plan.create.src_vol_uuid = parent.uuid;
      plan.step.backing = parent.uuid;
      plan.step.backing_format = parent.md.format;
    }
    plan.weight = v.weight;
    plans.push_back(std::move(plan));
  }
  if (plans.empty()) {
    return InvalidParameter("image holds only a template volume: nothing to "
                            "copy in preserve-chain mode");
  }
  return plans;
}

}  // namespace

Status ImageCopier::Copy(const CopyEndpoint& src, const CopyEndpoint& dst,
                         const CopyOptions& options,
                         const CopyProgress& progress,
                         const CancellationToken& cancel) {
  if (src.domain == nullptr || src.volumes == nullptr ||
      dst.domain == nullptr || dst.volumes == nullptr) {
    return InvalidParameter("image copy: missing domain or volumes");
  }
  RETURN_IF_ERROR(ValidateUuid(src.img, "srcImgUUID"));
  RETURN_IF_ERROR(ValidateUuid(dst.img, "dstImgUUID"));
  if (!options.top_vol.empty()) {
    RETURN_IF_ERROR(ValidateUuid(options.top_vol, "volUUID"));
  }
  const std::string& src_sd = src.domain->layout().sd_uuid();
  const std::string& dst_sd = dst.domain->layout().sd_uuid();
  if (src_sd == dst_sd && src.img == dst.img) {
    return InvalidParameter("image copy: source and destination are the same "
                            "image " + src.img);
  }
  const std::string what = "copy of image " + src.img + " (" + src_sd +
                           ") to " + dst.img + " (" + dst_sd + ")";
  RETURN_IF_ERROR(cancel.CheckCancelled(what));

  // 1. Source chain and destination checks.
  ASSIGN_OR_RETURN(std::vector<SourceVolume> chain,
                   ReadChain(src, options.top_vol));
  Result<std::vector<std::string>> existing = dst.domain->GetVolumes(dst.img);
  if (existing.ok() && !existing->empty()) {
    return Status(Code::kAlreadyExists,
                  "destination image " + dst.img + " already has volumes",
                  storage_code::kVolumeAlreadyExists);
  }
  if (!existing.ok() && existing.status().code() != Code::kNotFound) {
    return existing.status();
  }
  const bool dst_dir_existed = existing.ok();
  ASSIGN_OR_RETURN(std::vector<Plan> plans, MakePlans(chain, dst, options));
  uint64_t total = 0;
  for (const Plan& plan : plans) total += plan.weight;
  ProgressMeter meter(progress, total);

  std::vector<std::string> created;  // destination volumes, base first
  auto body = [&]() -> Status {
    // 2. Destination volumes, ILLEGAL below the top as soon as possible.
    for (const Plan& plan : plans) {
      RETURN_IF_ERROR(cancel.CheckCancelled(what));
      RETURN_IF_ERROR(dst.volumes->Create(plan.create));
      created.push_back(plan.create.vol_uuid);
      if (created.size() > 1) {
        RETURN_IF_ERROR(dst.volumes->SetLegality(
            dst.img, created[created.size() - 2], Legality::kIllegal));
      }
    }
    // 3. The data, under both image locks.
    {
      ASSIGN_OR_RETURN(
          ResourceManager::LockSet held,
          resources_.AcquireAll(
              {{std::string(kStorageLockNamespace), src_sd, LockMode::kShared},
               {std::string(kStorageLockNamespace), dst_sd, LockMode::kShared},
               {ImageLockNamespace(src_sd), src.img, LockMode::kShared},
               {ImageLockNamespace(dst_sd), dst.img, LockMode::kExclusive}},
              options.lock_timeout, cancel));
      ASSIGN_OR_RETURN(std::vector<SourceVolume> again,
                       ReadChain(src, options.top_vol.empty()
                                          ? chain.back().uuid
                                          : options.top_vol));
      if (!SameChain(chain, again)) {
        return Status(Code::kAborted,
                      "source image " + src.img +
                          " changed while the copy was being prepared",
                      storage_code::kVolumeCopyError);
      }
      uint64_t done = 0;
      for (const Plan& plan : plans) {
        RETURN_IF_ERROR(cancel.CheckCancelled(what));
        ProcessSpec spec;
        spec.argv = ConvertArgv(plan.step, options);
        spec.timeout = options.convert_timeout;
        spec.cancel = cancel;
        std::string tail;
        spec.on_stdout = [&](std::string_view chunk) {
          tail.append(chunk);
          double pct = ParseQemuImgProgress(tail);
          if (pct >= 0) meter.Volume(done, plan.weight, pct);
          // Keep only what may hold an incomplete "(NN.NN/100%)".
          if (tail.size() > 64) tail.erase(0, tail.size() - 32);
        };
        log::Debug(kLog, "convert", {{"argv", FormatArgv(spec.argv)}});
        ASSIGN_OR_RETURN(ProcessResult result, runner_.Run(spec));
        RETURN_IF_ERROR(WithStorageCode(CheckExit(result, "qemu-img convert"),
                                        storage_code::kVolumeCopyError));
        done += plan.weight;
        meter.Volume(done, 0, 0);
      }
    }
    // 4. LEGAL, base first, so the top is the last to become usable.
    for (const std::string& vol : created) {
      RETURN_IF_ERROR(
          dst.volumes->SetLegality(dst.img, vol, Legality::kLegal));
    }
    return Status::Ok();
  };

  Status status = body();
  if (status.ok()) {
    meter.Finish();
    log::Info(kLog, "copied", {{"src_sd", src_sd}, {"src_img", src.img},
                               {"dst_sd", dst_sd}, {"dst_img", dst.img},
                               {"volumes", created.size()}});
    return status;
  }

  // Undo: top first (Delete refuses a volume with children).
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    Status removed = dst.volumes->Delete(dst.img, *it);
    if (!removed.ok()) {
      log::Warning(kLog, "cannot remove a volume of a failed copy",
                   {{"sd", dst_sd}, {"img", dst.img}, {"vol", *it},
                    {"error", removed.ToString()}});
    }
  }
  if (!dst_dir_existed) {
    // A template base was hard-linked in by FileVolumes; drop the links.
    Env& env = dst.domain->env();
    if (!chain.empty() && chain.front().linked_template &&
        options.mode == CopyMode::kPreserveChain) {
      Result<VolumePaths> links =
          dst.domain->layout().Volume(dst.img, chain.front().uuid);
      if (links.ok()) {
        for (const std::string* p : {&links->meta, &links->lease,
                                     &links->data}) {
          (void)RemoveIfExists(env, *p);
        }
      }
    }
    Result<std::string> dir = dst.domain->layout().ImageDir(dst.img);
    if (dir.ok()) {
      Status rm = env.RemoveDir(*dir);
      if (!rm.ok() && rm.code() != Code::kNotFound) {
        log::Warning(kLog, "cannot remove the image dir of a failed copy",
                     {{"path", *dir}, {"error", rm.ToString()}});
      }
      (void)env.SyncDir(dst.domain->layout().images_dir());
    }
  }
  log::Warning(kLog, "copy failed", {{"src_img", src.img},
                                     {"dst_img", dst.img},
                                     {"error", status.ToString()}});
  return status;
}

}  // namespace sanpool::file_domain
