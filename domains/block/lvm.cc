#include "domains/block/lvm.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <optional>
#include <utility>

#include "base/log.h"
#include "domains/block/lvm_report.h"
#include "domains/storage_errors.h"

namespace sanpool::lvm {
namespace {

// A device path as an anchored lvm filter regex. '.' and '+' are put in
// brackets (backslashes would be eaten by lvm's config string parser).
std::string DeviceRegex(const std::string& device) {
  std::string out = "^";
  for (char c : device) {
    if (c == '.' || c == '+') {
      out += '[';
      out += c;
      out += ']';
    } else {
      out += c;
    }
  }
  return out + "$";
}

bool SafeDevicePath(const std::string& device) {
  if (device.empty() || device[0] != '/') return false;
  return std::all_of(device.begin(), device.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '/' || c == '_' || c == '-' || c == '.' ||
           c == ':' || c == '+' || c == '#' || c == '@';
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Has(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Trimmed(std::string_view s, size_t max_bytes) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  if (s.size() > max_bytes) s = s.substr(s.size() - max_bytes);
  return std::string(s);
}

// lvm's stderr without its "Activation disabled" and backup warnings,
// which every --driverloaded n / --autobackup n command prints.
std::string Meaningful(std::string_view err) {
  std::string out;
  size_t pos = 0;
  while (pos < err.size()) {
    size_t nl = err.find('\n', pos);
    if (nl == std::string_view::npos) nl = err.size();
    std::string_view line = err.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find("WARNING: Activation disabled") != std::string_view::npos ||
        line.find("is NOT backed up") != std::string_view::npos ||
        line.find("not zeroed") != std::string_view::npos) {
      continue;
    }
    out += Trimmed(line, line.size());
    out += '\n';
  }
  return Trimmed(out, 1024);
}

std::string SizeArg(LvSize size) {
  return size.unit == LvSize::Unit::kMiB ? std::to_string(size.value) + "m"
                                         : std::to_string(size.value);
}

std::string SizeFlag(LvSize size) {
  return size.unit == LvSize::Unit::kMiB ? "--size" : "--extents";
}

void AppendTags(std::vector<std::string>& args, std::string_view flag,
                const std::vector<std::string>& tags) {
  for (const std::string& tag : tags) {
    args.emplace_back(flag);
    args.push_back(tag);
  }
}

Status CheckName(std::string_view what, const std::string& name) {
  if (name.empty() || name[0] == '-') {
    return InvalidArgumentError("invalid " + std::string(what) + " name '" +
                                name + "'");
  }
  return Status::Ok();
}

// A name lvm's shell passes through unchanged as one argument (lvm names
// are [a-zA-Z0-9+_.-] anyway).
bool ShellSafeName(const std::string& name) {
  return !name.empty() && name[0] != '-' &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '+' || c == '_' || c == '.' ||
                  c == '-';
         });
}

std::string JsonString(const boost::json::object& row, std::string_view key) {
  const boost::json::value* v = row.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

}  // namespace

std::string LvmConfig(const DeviceList& devices) {
  std::string filter = "[";
  for (const std::string& dev : devices) {
    filter += "\"a|" + DeviceRegex(dev) + "|\",";
  }
  filter += "\"r|.*|\"]";
  return "devices { filter=" + filter + " global_filter=" + filter +
         " use_devicesfile=0 hints=\"none\" obtain_device_list_from_udev=0"
         " write_cache_state=0 ignore_suspended_devices=1 scan_lvs=0"
         " preferred_names=[\"^/dev/mapper/\"] }"
         " global { use_lvmpolld=0 }"
         " backup { retain_min=50 retain_days=0 }";
}

std::string PrivateLvmConf(const std::string& host_dir) {
  return "# Written by sanpool-agent: the lvm.conf of the agent's own lvm\n"
         "# commands (LVM_SYSTEM_DIR). Device filters and the rest travel in\n"
         "# --config; see doc/formats/block-lvm.md.\n"
         "global {\n"
         "  use_aio = 0\n"
         "}\n"
         "config {\n"
         "  profile_dir = \"" + host_dir + "/profile\"\n"
         "}\n"
         "backup {\n"
         "  backup_dir = \"" + host_dir + "/backup\"\n"
         "  archive_dir = \"" + host_dir + "/archive\"\n"
         "}\n"
         "devices {\n"
         "  cache_dir = \"" + host_dir + "/cache\"\n"
         "}\n";
}

Status WriteLvmSystemDir(Env& env, const std::string& dir,
                         const std::string& host_dir) {
  RETURN_IF_ERROR(env.CreateDirs(dir, 0755));
  return env.WriteFileAtomic(dir + "/lvm.conf", PrivateLvmConf(host_dir),
                             0644);
}

Status LvmFailure(const ProcessResult& result, std::string_view command,
                  int storage_code) {
  if (result.Succeeded()) return Status::Ok();
  if (result.timed_out || result.cancelled || result.term_signal != 0) {
    Status s = CheckExit(result, "lvm " + std::string(command));
    return WithStorageCode(s, storage_code);
  }
  const std::string err = Meaningful(result.stderr_data);
  const std::string low = Lower(err);
  Code code = Code::kUnknown;
  int storage = storage_code;
  std::string what = "lvm " + std::string(command) + " failed";
  if (Has(low, "exceeds maximum metadata size") ||
      Has(low, "no space for metadata") || Has(low, "metadata area full")) {
    code = Code::kResourceExhausted;
    storage = lvm_code::kVgMetadataCriticallyFull;
    what += ": VG metadata area is full";
  } else if (Has(low, "insufficient free space") ||
             Has(low, "insufficient free extents") ||
             Has(low, "insufficient suitable")) {
    code = Code::kResourceExhausted;
    storage = lvm_code::kVolumeGroupSizeError;
    what += ": not enough free extents in the VG";
  } else if (Has(low, "a volume group called") && Has(low, "already exists")) {
    code = Code::kAlreadyExists;
    storage = lvm_code::kVolumeGroupAlreadyExists;
    what += ": VG already exists";
  } else if (Has(low, "already exists in volume group")) {
    code = Code::kAlreadyExists;
    storage = lvm_code::kLogicalVolumeAlreadyExists;
    what += ": LV already exists";
  } else if (Has(low, "volume group \"") && Has(low, "\" not found")) {
    code = Code::kNotFound;
    storage = lvm_code::kVolumeGroupDoesNotExist;
    what += ": VG not found";
  } else if (Has(low, "failed to find logical volume") ||
             (Has(low, "logical volume") && Has(low, "not found"))) {
    code = Code::kNotFound;
    storage = lvm_code::kLogicalVolumeDoesNotExist;
    what += ": LV not found";
  } else if (Has(low, "no device found for") ||
             Has(low, "failed to find device") ||
             Has(low, "rejected by filter") ||
             Has(low, "couldn't find device") ||
             Has(low, "failed to find physical volume")) {
    code = Code::kNotFound;
    storage = lvm_code::kNoSuchPhysicalVolume;
    what += ": device or PV not found";
  } else if (Has(low, "in use") || Has(low, "is used by") ||
             Has(low, "without -ff") || Has(low, "open logical volume")) {
    code = Code::kFailedPrecondition;
    what += ": in use";
  } else if (Has(low, "not larger than existing size") ||
             Has(low, "not smaller than existing size") ||
             Has(low, "matches existing size")) {
    code = Code::kFailedPrecondition;
    what += ": size would not change in the requested direction";
  } else if (Has(low, "giving up waiting for lock") ||
             Has(low, "can't get lock")) {
    code = Code::kUnavailable;
    what += ": lock busy";
  } else if (result.exit_code == 3 && Has(low, "invalid argument")) {
    code = Code::kInvalidArgument;
    what += ": invalid argument";
  } else {
    what += " with exit code " + std::to_string(result.exit_code);
  }
  std::string first_line = err.substr(0, err.find('\n'));
  if (!first_line.empty()) what += ": " + first_line;
  return Status(code, what, storage)
      .WithDetail("command", std::string(command))
      .WithDetail("exit_code", std::to_string(result.exit_code))
      .WithDetail("stderr", err);
}

Result<std::vector<LinearTarget>> LinearTable(const Lv& lv,
                                              std::span<const Pv> pvs) {
  const uint64_t sectors_per_extent = lv.extent_size_bytes / kSectorBytes;
  if (sectors_per_extent == 0 || lv.extent_size_bytes % kSectorBytes != 0) {
    return DataLossError("LV " + lv.vg_name + "/" + lv.name +
                         ": bad extent size " +
                         std::to_string(lv.extent_size_bytes));
  }
  std::vector<LinearTarget> table;
  uint64_t next = 0;
  for (const Segment& seg : lv.segments) {
    if (seg.start_extent != next) {
      return DataLossError("LV " + lv.vg_name + "/" + lv.name +
                           ": segments not contiguous at extent " +
                           std::to_string(next));
    }
    auto pv = std::find_if(pvs.begin(), pvs.end(), [&](const Pv& p) {
      return p.name == seg.pv_device;
    });
    if (pv == pvs.end()) {
      return NotFoundError("LV " + lv.vg_name + "/" + lv.name + ": PV " +
                           seg.pv_device + " not reported");
    }
    table.push_back(LinearTarget{
        .start_sector = seg.start_extent * sectors_per_extent,
        .sector_count = seg.extent_count * sectors_per_extent,
        .device = seg.pv_device,
        .device_sector = pv->pe_start_bytes / kSectorBytes +
                         seg.pv_start_extent * sectors_per_extent});
    next = seg.start_extent + seg.extent_count;
  }
  if (next * lv.extent_size_bytes != lv.size_bytes) {
    return DataLossError("LV " + lv.vg_name + "/" + lv.name +
                         ": segments cover " + std::to_string(next) +
                         " extents, size is " + std::to_string(lv.size_bytes));
  }
  return table;
}

Lvm::Lvm(ProcessRunner& runner, LvmOptions options)
    : runner_(runner), options_(std::move(options)) {}

void Lvm::SetEnvironment(ProcessSpec& spec) const {
  spec.env_set["LVM_SUPPRESS_FD_WARNINGS"] = "1";
  if (!options_.system_dir.empty()) {
    spec.env_set["LVM_SYSTEM_DIR"] = options_.system_dir;
  }
}

Result<ProcessResult> Lvm::RunLvm(const DeviceList& devices,
                                  std::string_view command, Kind kind,
                                  std::vector<std::string> args) {
  for (const std::string& dev : devices) {
    if (!SafeDevicePath(dev)) {
      return InvalidArgumentError("device path not usable in an lvm filter: '" +
                                  dev + "'");
    }
  }
  ProcessSpec spec;
  spec.argv = {options_.binary, std::string(command), "--config",
               LvmConfig(devices), "--driverloaded", "n"};
  if (kind == Kind::kReport) {
    const ReportLocking locking = options_.report_locking_fn
                                      ? options_.report_locking_fn()
                                      : options_.report_locking;
    if (locking == ReportLocking::kReadOnly) {
      spec.argv.push_back("--readonly");
    }
    for (const char* flag :
         {"--reportformat", "json", "--units", "b", "--nosuffix"}) {
      spec.argv.push_back(flag);
    }
  }
  for (std::string& a : args) spec.argv.push_back(std::move(a));
  SetEnvironment(spec);
  spec.timeout = options_.timeout;
  spec.cancel = options_.cancel;
  log::Debug("lvm", "run", {{"argv", FormatArgv(spec.argv)}});
  return runner_.Run(spec);
}

Status Lvm::RunChange(const DeviceList& devices, std::string_view command,
                      std::vector<std::string> args, int storage_code) {
  ASSIGN_OR_RETURN(ProcessResult result,
                   RunLvm(devices, command, Kind::kChange, std::move(args)));
  Status s = LvmFailure(result, command, storage_code);
  if (!s.ok()) {
    log::Warning("lvm", "command failed",
                 {{"command", command}, {"error", s.ToString()}});
  }
  return s;
}

// --- PVs -------------------------------------------------------------------

Status Lvm::PvCreate(const DeviceList& devices, const PvCreateSpec& spec) {
  if (spec.devices.empty()) return InvalidArgumentError("pvcreate: no devices");
  std::vector<std::string> args = {
      "--metadatasize", std::to_string(spec.metadata_size_bytes / kMiB) + "m",
      "--metadatacopies", std::to_string(spec.metadata_copies),
      "--metadataignore",
      spec.metadata_ignore == MetadataIgnore::kYes ? "y" : "n"};
  if (spec.force == Force::kYes) {
    args.push_back("-y");
    args.push_back("-ff");
  }
  args.insert(args.end(), spec.devices.begin(), spec.devices.end());
  return RunChange(devices, "pvcreate", std::move(args),
                   lvm_code::kPhysDevInitializationError);
}

Status Lvm::PvChangeMetadataIgnore(const DeviceList& devices,
                                   const std::string& pv,
                                   MetadataIgnore ignore) {
  return RunChange(devices, "pvchange",
                   {"--autobackup", "n", "--metadataignore",
                    ignore == MetadataIgnore::kYes ? "y" : "n", pv},
                   lvm_code::kPhysDevInitializationError);
}

Status Lvm::PvResize(const DeviceList& devices, const std::string& pv) {
  return RunChange(devices, "pvresize", {pv},
                   lvm_code::kCouldNotResizePhysicalVolume);
}

Result<std::vector<Pv>> Lvm::Pvs(const DeviceList& devices,
                                 const std::vector<std::string>& pvs) {
  std::vector<std::string> args = {"-o", std::string(kPvFields)};
  args.insert(args.end(), pvs.begin(), pvs.end());
  ASSIGN_OR_RETURN(ProcessResult result,
                   RunLvm(devices, "pvs", Kind::kReport, std::move(args)));
  RETURN_IF_ERROR(LvmFailure(result, "pvs",
                             lvm_code::kCouldNotRetrievePhysicalVolumeList));
  return ParsePvsReport(result.stdout_data);
}

// --- VGs -------------------------------------------------------------------

Status Lvm::VgCreate(const DeviceList& devices, const VgCreateSpec& spec) {
  RETURN_IF_ERROR(CheckName("VG", spec.name));
  if (spec.pvs.empty()) return InvalidArgumentError("vgcreate: no PVs");
  std::vector<std::string> args = {
      "--autobackup", "n", "--setautoactivation", "n", "--physicalextentsize",
      std::to_string(spec.extent_size_bytes / kMiB) + "m"};
  AppendTags(args, "--addtag", spec.tags);
  args.push_back(spec.name);
  args.insert(args.end(), spec.pvs.begin(), spec.pvs.end());
  return RunChange(devices, "vgcreate", std::move(args),
                   lvm_code::kVolumeGroupCreateError);
}

Status Lvm::VgExtend(const DeviceList& devices, const std::string& vg,
                     const DeviceList& new_pvs) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  std::vector<std::string> args = {"--autobackup", "n", vg};
  args.insert(args.end(), new_pvs.begin(), new_pvs.end());
  return RunChange(devices, "vgextend", std::move(args),
                   lvm_code::kVolumeGroupExtendError);
}

Status Lvm::VgChangeTags(const DeviceList& devices, const std::string& vg,
                         const TagChange& change) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  if (change.add.empty() && change.del.empty()) return Status::Ok();
  std::vector<std::string> args = {"--autobackup", "n"};
  AppendTags(args, "--deltag", change.del);
  AppendTags(args, "--addtag", change.add);
  args.push_back(vg);
  return RunChange(devices, "vgchange", std::move(args),
                   lvm_code::kVolumeGroupReplaceTagError);
}

Status Lvm::VgRemove(const DeviceList& devices, const std::string& vg) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  return RunChange(devices, "vgremove", {"-f", vg},
                   lvm_code::kVolumeGroupRemoveError);
}

Result<std::vector<Vg>> Lvm::Vgs(const DeviceList& devices,
                                 const std::vector<std::string>& vgs) {
  std::vector<std::string> args = {"-o", std::string(kVgFields)};
  for (const std::string& vg : vgs) {
    RETURN_IF_ERROR(CheckName("VG", vg));
    args.push_back(vg);
  }
  ASSIGN_OR_RETURN(ProcessResult result,
                   RunLvm(devices, "vgs", Kind::kReport, std::move(args)));
  RETURN_IF_ERROR(
      LvmFailure(result, "vgs", lvm_code::kGetVolumeGroupListError));
  return ParseVgsReport(result.stdout_data);
}

Result<Vg> Lvm::GetVg(const DeviceList& devices, const std::string& vg) {
  ASSIGN_OR_RETURN(std::vector<Vg> vgs, Vgs(devices, {vg}));
  for (Vg& v : vgs) {
    if (v.name == vg) return std::move(v);
  }
  return Status(Code::kNotFound, "VG " + vg + " not found",
                lvm_code::kVolumeGroupDoesNotExist);
}

// --- LVs -------------------------------------------------------------------

Status Lvm::LvCreate(const DeviceList& devices, const LvCreateSpec& spec) {
  RETURN_IF_ERROR(CheckName("VG", spec.vg));
  RETURN_IF_ERROR(CheckName("LV", spec.name));
  if (spec.size.value == 0) return InvalidArgumentError("lvcreate: size 0");
  std::vector<std::string> args = {
      "--autobackup", "n", "--activate", "n", "--zero", "n",
      "--wipesignatures", "n", "--setautoactivation", "n", "--contiguous",
      spec.contiguous == Contiguous::kYes ? "y" : "n", SizeFlag(spec.size),
      SizeArg(spec.size)};
  AppendTags(args, "--addtag", spec.tags);
  args.push_back("--name");
  args.push_back(spec.name);
  args.push_back(spec.vg);
  if (!spec.pv.empty()) args.push_back(spec.pv);
  return RunChange(devices, "lvcreate", std::move(args),
                   lvm_code::kCannotCreateLogicalVolume);
}

Status Lvm::LvExtend(const DeviceList& devices, const std::string& vg,
                     const std::string& lv, LvSize size) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  RETURN_IF_ERROR(CheckName("LV", lv));
  return RunChange(devices, "lvextend",
                   {"--autobackup", "n", SizeFlag(size), SizeArg(size),
                    vg + "/" + lv},
                   lvm_code::kLogicalVolumeExtendError);
}

Result<std::vector<Status>> ParseLvmShellLog(std::string_view stdout_data,
                                             size_t commands,
                                             std::string_view command,
                                             int storage_code) {
  // Split stdout into its JSON objects.
  std::vector<boost::json::object> objects;
  boost::json::stream_parser parser;
  std::string_view rest = stdout_data;
  for (;;) {
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest[0]))) {
      rest.remove_prefix(1);
    }
    if (rest.empty()) break;
    parser.reset();
    boost::system::error_code ec;
    const size_t used = parser.write_some(rest.data(), rest.size(), ec);
    if (ec || !parser.done()) {
      return DataLossError("lvm shell output: not a JSON object sequence at " +
                           std::to_string(stdout_data.size() - rest.size()))
          .WithDetail("output", std::string(rest.substr(0, 200)));
    }
    boost::json::value v = parser.release();
    if (!v.is_object() || !v.as_object().contains("log") ||
        !v.as_object().at("log").is_array()) {
      return DataLossError("lvm shell output: an object without a log array");
    }
    objects.push_back(std::move(v.as_object()));
    rest.remove_prefix(used);
  }
  if (objects.size() == 2 * commands + 1 &&
      objects.back().at("log").as_array().empty()) {
    objects.pop_back();  // the shell's own, at exit
  }
  if (objects.size() != 2 * commands) {
    return DataLossError("lvm shell output: " + std::to_string(objects.size()) +
                         " log reports for " + std::to_string(commands) +
                         " commands");
  }
  std::vector<Status> out;
  out.reserve(commands);
  for (size_t i = 0; i < commands; ++i) {
    // The second object is lastlog's: the command's whole log.
    const boost::json::array& log = objects[2 * i + 1].at("log").as_array();
    std::optional<int> ret_code;
    std::string errors;
    for (const boost::json::value& entry : log) {
      if (!entry.is_object()) {
        return DataLossError("lvm shell output: a log row is not an object");
      }
      const boost::json::object& row = entry.as_object();
      const std::string type = JsonString(row, "log_type");
      if (type == "status" && JsonString(row, "log_context") == "shell" &&
          JsonString(row, "log_object_type") == "cmd") {
        if (JsonString(row, "log_object_name") != command) {
          return DataLossError("lvm shell output: command " +
                               std::to_string(i) + " is '" +
                               JsonString(row, "log_object_name") +
                               "', expected '" + std::string(command) + "'");
        }
        const std::string code = JsonString(row, "log_ret_code");
        int value = 0;
        auto [end, err] =
            std::from_chars(code.data(), code.data() + code.size(), value);
        if (err != std::errc() || end != code.data() + code.size()) {
          return DataLossError("lvm shell output: bad log_ret_code '" + code +
                               "'");
        }
        ret_code = value;
      } else if (type == "error") {
        errors += JsonString(row, "log_message");
        errors += '\n';
      }
    }
    if (!ret_code) {
      return DataLossError("lvm shell output: no status of command " +
                           std::to_string(i));
    }
    // lvm's ECMD_PROCESSED (1) is success; its exit status is then 0, and
    // a failed command's (ECMD_FAILED 5, EINVALID_CMD_LINE 3) is the same.
    ProcessResult as_run;
    as_run.exit_code = *ret_code == 1 ? 0 : *ret_code;
    if (*ret_code != 1 && as_run.exit_code == 0) as_run.exit_code = 5;
    as_run.stderr_data = std::move(errors);
    out.push_back(LvmFailure(as_run, command, storage_code));
  }
  return out;
}

Result<std::vector<Status>> Lvm::LvExtendMany(
    const DeviceList& devices, const std::string& vg,
    const std::vector<LvExtendItem>& items) {
  if (!ShellSafeName(vg)) {
    return InvalidArgumentError("VG name not usable in lvm's shell: '" + vg +
                                "'");
  }
  for (const std::string& dev : devices) {
    if (!SafeDevicePath(dev)) {
      return InvalidArgumentError("device path not usable in an lvm filter: '" +
                                  dev + "'");
    }
  }
  if (items.empty()) return std::vector<Status>{};
  // The shell splits lines on blanks and honours quotes: the config string
  // has double quotes only, so it goes in single quotes.
  const std::string common = "lvextend --config '" + LvmConfig(devices) +
                             "' --driverloaded n --autobackup n ";
  ProcessSpec spec;
  for (const LvExtendItem& item : items) {
    if (!ShellSafeName(item.lv)) {
      return InvalidArgumentError("LV name not usable in lvm's shell: '" +
                                  item.lv + "'");
    }
    spec.stdin_data += common + SizeFlag(item.size) + " " +
                       SizeArg(item.size) + " " + vg + "/" + item.lv +
                       "\nlastlog\n";
  }
  spec.argv = {options_.binary};
  SetEnvironment(spec);
  spec.env_set["LVM_COMMAND_PROFILE"] = options_.shell_profile;
  spec.timeout = options_.timeout;
  spec.cancel = options_.cancel;
  log::Debug("lvm", "shell", {{"vg", vg}, {"commands", items.size()}});
  ASSIGN_OR_RETURN(ProcessResult result, runner_.Run(spec));
  if (!result.Succeeded()) {
    Status s = CheckExit(result, "lvm shell");
    return WithStorageCode(s, lvm_code::kLogicalVolumeExtendError);
  }
  Result<std::vector<Status>> parsed =
      ParseLvmShellLog(result.stdout_data, items.size(), "lvextend",
                       lvm_code::kLogicalVolumeExtendError);
  if (!parsed.ok()) {
    return Status(parsed.status())
        .WithDetail("stderr", Trimmed(result.stderr_data, 1024));
  }
  for (size_t i = 0; i < parsed->size(); ++i) {
    if (!(*parsed)[i].ok()) {
      log::Warning("lvm", "command failed",
                   {{"command", "lvextend"},
                    {"lv", vg + "/" + items[i].lv},
                    {"error", (*parsed)[i].ToString()}});
    }
  }
  return parsed;
}

Status Lvm::LvReduce(const DeviceList& devices, const std::string& vg,
                     const std::string& lv, LvSize size) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  RETURN_IF_ERROR(CheckName("LV", lv));
  if (size.value == 0) return InvalidArgumentError("lvreduce: size 0");
  return RunChange(devices, "lvreduce",
                   {"--autobackup", "n", "--force", SizeFlag(size),
                    SizeArg(size), vg + "/" + lv},
                   lvm_code::kLogicalVolumeExtendError);
}

Status Lvm::LvRemove(const DeviceList& devices, const std::string& vg,
                     const std::vector<std::string>& lvs) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  if (lvs.empty()) return Status::Ok();
  std::vector<std::string> args = {"-f", "--autobackup", "n"};
  for (const std::string& lv : lvs) {
    RETURN_IF_ERROR(CheckName("LV", lv));
    args.push_back(vg + "/" + lv);
  }
  return RunChange(devices, "lvremove", std::move(args),
                   lvm_code::kCannotRemoveLogicalVolume);
}

Status Lvm::LvChangeTags(const DeviceList& devices, const std::string& vg,
                         const std::string& lv, const TagChange& change) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  RETURN_IF_ERROR(CheckName("LV", lv));
  if (change.add.empty() && change.del.empty()) return Status::Ok();
  std::vector<std::string> args = {"--autobackup", "n"};
  AppendTags(args, "--deltag", change.del);
  AppendTags(args, "--addtag", change.add);
  args.push_back(vg + "/" + lv);
  return RunChange(devices, "lvchange", std::move(args),
                   lvm_code::kLogicalVolumeReplaceTagError);
}

Status Lvm::LvChangePermission(const DeviceList& devices,
                               const std::string& vg, const std::string& lv,
                               Permission permission) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  RETURN_IF_ERROR(CheckName("LV", lv));
  return RunChange(devices, "lvchange",
                   {"--autobackup", "n", "--permission",
                    permission == Permission::kReadOnly ? "r" : "rw",
                    vg + "/" + lv},
                   lvm_code::kCannotSetRWLogicalVolume);
}

Status Lvm::LvRename(const DeviceList& devices, const std::string& vg,
                     const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  RETURN_IF_ERROR(CheckName("LV", from));
  RETURN_IF_ERROR(CheckName("LV", to));
  return RunChange(devices, "lvrename", {"--autobackup", "n", vg, from, to},
                   lvm_code::kLogicalVolumeRenameError);
}

Result<std::vector<Lv>> Lvm::Lvs(const DeviceList& devices,
                                 const std::string& vg) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  ASSIGN_OR_RETURN(ProcessResult result,
                   RunLvm(devices, "lvs", Kind::kReport,
                          {"--segments", "-o", std::string(kLvFields), vg}));
  RETURN_IF_ERROR(LvmFailure(result, "lvs",
                             lvm_code::kCouldNotRetrieveLogicalVolumesList));
  return ParseLvsReport(result.stdout_data);
}

Result<Lv> Lvm::GetLv(const DeviceList& devices, const std::string& vg,
                      const std::string& lv) {
  RETURN_IF_ERROR(CheckName("VG", vg));
  RETURN_IF_ERROR(CheckName("LV", lv));
  ASSIGN_OR_RETURN(
      ProcessResult result,
      RunLvm(devices, "lvs", Kind::kReport,
             {"--segments", "-o", std::string(kLvFields), vg + "/" + lv}));
  RETURN_IF_ERROR(LvmFailure(result, "lvs",
                             lvm_code::kCouldNotRetrieveLogicalVolumesList));
  ASSIGN_OR_RETURN(std::vector<Lv> lvs, ParseLvsReport(result.stdout_data));
  for (Lv& l : lvs) {
    if (l.name == lv) return std::move(l);
  }
  return Status(Code::kNotFound, "LV " + vg + "/" + lv + " not found",
                lvm_code::kLogicalVolumeDoesNotExist);
}

}  // namespace sanpool::lvm
