// Lvm: the lvm2 commands the block-domain code runs, as typed calls. LVM is
// used for metadata only (DESIGN.md "Device-mapper: the agent owns
// activation"): no command ever activates, deactivates or refreshes an LV;
// the agent maps LVs itself from the segments reported here (dm/).
//
//   Lvm lvm(runner, {});
//   DeviceList devs = {"/dev/mapper/36001405..."};
//   RETURN_IF_ERROR(lvm.PvCreate(devs, {.devices = devs}));
//   RETURN_IF_ERROR(lvm.VgCreate(devs, {.name = sd_uuid, .pvs = devs,
//                                       .tags = {"RHAT_storage_domain_UNREADY"}}));
//   RETURN_IF_ERROR(lvm.LvCreate(devs, {.vg = sd_uuid, .name = "metadata",
//                                       .size = LvSize::MiB(128)}));
//   ASSIGN_OR_RETURN(Lv lv, lvm.GetLv(devs, sd_uuid, "metadata"));
//   // lv.segments[i]: logical extents -> (PV device, physical extent).
//
// How every command is built (doc/formats/block-lvm.md has the why):
//  * argv only: `lvm <command> --config '<conf>' <options> <args>`, run with
//    LVM_SUPPRESS_FD_WARNINGS=1; never a shell.
//  * With LvmOptions::system_dir set, LVM_SYSTEM_DIR=<system_dir>: lvm then
//    reads the agent's own lvm.conf (WriteLvmSystemDir) instead of
//    /etc/lvm/lvm.conf. Its one setting that matters is `use_aio = 0`,
//    which lvm reads before `--config` is applied: with async I/O every
//    lvm command spends ~35-40 ms in io_destroy() at exit (an RCU grace
//    period), 4/5 of an lvextend's 50 ms (doc/formats/block-lvm.md).
//  * `--config` carries a per-call device filter that accepts exactly the
//    given devices and rejects everything else (`filter` and
//    `global_filter`), `use_devicesfile=0`, `hints="none"`, no udev device
//    list, no cache state; `global { use_lvmpolld=0 }`;
//    `backup { retain_min=50 retain_days=0 }`. With an empty DeviceList the
//    filter rejects everything (oVirt's `r|.*|`): pass the devices.
//  * Every command that could touch device-mapper gets `--driverloaded n`
//    (lvm then never activates, and works where the dm driver is absent);
//    metadata-changing commands get `--autobackup n`.
//  * lvcreate: `--activate n --zero n --wipesignatures n`, contiguous only
//    when asked (oVirt: `--contiguous n`).
//  * Reports: `--reportformat json --units b --nosuffix` with explicit field
//    lists (domains/block/lvm_report.h parses them).
//  * Reports take lvm's normal (local, per-host) shared lock by default, so
//    a report started after a change on this host sees it. Hosts that never
//    change metadata (non-SPM) may use ReportLocking::kReadOnly
//    (`--readonly`: read on-disk metadata without any lock), as oVirt's
//    HSMs effectively do; a read racing a remote writer can then see the
//    old or the new committed metadata, never a torn one.
//
// Errors: a command that could not start is the runner's error. A command
// that ran and failed becomes a Status chosen from lvm's stderr (below),
// with the details `command`, `exit_code` and `stderr` (trimmed tail); a
// timeout is kDeadlineExceeded, a cancellation kCancelled. Storage codes are
// VDSM's (lib/vdsm/storage/exception.py), namespace lvm_code:
//   insufficient free extents  kResourceExhausted  504 VolumeGroupSizeError
//   LV already exists          kAlreadyExists      604 LogicalVolumeAlreadyExists
//   VG already exists          kAlreadyExists      505 VolumeGroupAlreadyExistsError
//   LV not found               kNotFound           610 LogicalVolumeDoesNotExistError
//   VG not found               kNotFound           506 VolumeGroupDoesNotExist
//   device/PV missing          kNotFound           619 NoSuchPhysicalVolume
//   metadata area full         kResourceExhausted  613 VgMetadataCriticallyFull
//   in use (open LV, PV in VG) kFailedPrecondition the command's code
//   size would not grow/shrink kFailedPrecondition the command's code
//   lock held too long         kUnavailable        the command's code
//   anything else              kUnknown            the command's code
// where "the command's code" is 601 pvcreate, 502 vgcreate, 503 vgextend,
// 516 vgchange tags, 508 vgremove, 615 pvresize, 550 lvcreate, 554 lvextend
// and lvreduce, 551 lvremove, 572 lvchange tags, 568 lvchange permission,
// 566 lvrename, 603 pvs, 514 vgs, 605 lvs. Report output that does not
// parse is kDataLoss (lvm_report.h).
//
// Blocking: every call (LvExtendMany too) runs one lvm process and blocks until it exits (or
// its timeout); call from a worker thread. Thread-safety: safe to share
// between threads; concurrency is bounded by LvmCache, not here.
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/cancel.h"
#include "base/env.h"
#include "base/process.h"
#include "base/status.h"

namespace sanpool::lvm {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
// oVirt's sc.VG_EXTENT_SIZE and VG_METADATASIZE.
inline constexpr uint64_t kExtentSizeBytes = 128 * kMiB;
inline constexpr uint64_t kPvMetadataSizeBytes = 128 * kMiB;
inline constexpr uint64_t kSectorBytes = 512;

// VDSM storage codes for LVM failures (lib/vdsm/storage/exception.py).
namespace lvm_code {
inline constexpr int kVolumeGroupCreateError = 502;
inline constexpr int kVolumeGroupExtendError = 503;
inline constexpr int kVolumeGroupSizeError = 504;
inline constexpr int kVolumeGroupAlreadyExists = 505;
inline constexpr int kVolumeGroupDoesNotExist = 506;
inline constexpr int kVolumeGroupRemoveError = 508;
inline constexpr int kGetVolumeGroupListError = 514;
inline constexpr int kVolumeGroupReplaceTagError = 516;
inline constexpr int kCannotCreateLogicalVolume = 550;
inline constexpr int kCannotRemoveLogicalVolume = 551;
inline constexpr int kLogicalVolumeExtendError = 554;
inline constexpr int kLogicalVolumeRenameError = 566;
inline constexpr int kCannotSetRWLogicalVolume = 568;
inline constexpr int kLogicalVolumeReplaceTagError = 572;
inline constexpr int kPhysDevInitializationError = 601;
inline constexpr int kCouldNotRetrievePhysicalVolumeList = 603;
inline constexpr int kLogicalVolumeAlreadyExists = 604;
inline constexpr int kCouldNotRetrieveLogicalVolumesList = 605;
inline constexpr int kLogicalVolumeDoesNotExist = 610;
inline constexpr int kVgMetadataCriticallyFull = 613;
inline constexpr int kCouldNotResizePhysicalVolume = 615;
inline constexpr int kNoSuchPhysicalVolume = 619;
}  // namespace lvm_code

// The block devices lvm may scan for one call, e.g. {"/dev/mapper/<wwid>"}
// or {"/dev/loop3"}. Absolute paths; everything else is filtered out.
using DeviceList = std::vector<std::string>;

// One linear piece of an LV: `extent_count` logical extents starting at the
// LV's logical extent `start_extent` live on `pv_device` from its physical
// extent `pv_start_extent` on. Extents are the VG's extent size; physical
// extent N of a PV starts at byte `Pv::pe_start_bytes + N * extent size`.
// (From lvs --segments: seg_start_pe, seg_size_pe, seg_pe_ranges.)
struct Segment {
  uint64_t start_extent = 0;
  uint64_t extent_count = 0;
  std::string pv_device;
  uint64_t pv_start_extent = 0;

  friend bool operator==(const Segment&, const Segment&) = default;
};

struct Pv {
  std::string name;  // The device path, "/dev/loop0".
  std::string uuid;
  std::string vg_name;  // Empty when the PV is in no VG.
  std::string vg_uuid;
  uint64_t size_bytes = 0;      // Usable PV size.
  uint64_t dev_size_bytes = 0;  // The whole device.
  uint64_t pe_start_bytes = 0;  // Offset of physical extent 0.
  uint64_t pe_count = 0;
  uint64_t pe_alloc_count = 0;
  uint64_t mda_count = 0;
  uint64_t mda_used_count = 0;  // oVirt: 2 on the PV holding VG metadata.
  uint64_t mda_size_bytes = 0;
  uint64_t mda_free_bytes = 0;
  std::vector<std::string> tags;
};

struct Vg {
  std::string name;
  std::string uuid;
  std::string attr;  // "wz--n-"
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t extent_size_bytes = 0;
  uint64_t extent_count = 0;
  uint64_t free_count = 0;
  uint64_t mda_size_bytes = 0;
  uint64_t mda_free_bytes = 0;
  uint64_t lv_count = 0;
  uint64_t pv_count = 0;
  std::vector<std::string> tags;
  std::vector<std::string> pv_names;  // In lvm's order.
};

struct Lv {
  std::string name;
  std::string uuid;
  std::string vg_name;
  std::string attr;  // "-wi-------"; attr[1] == 'r' when read-only.
  uint64_t size_bytes = 0;
  uint64_t extent_size_bytes = 0;  // The VG's.
  std::vector<std::string> tags;
  // Sorted by start_extent, contiguous from 0, covering size_bytes.
  std::vector<Segment> segments;

  uint64_t ExtentCount() const {
    return extent_size_bytes ? size_bytes / extent_size_bytes : 0;
  }
  bool ReadOnly() const { return attr.size() > 1 && attr[1] == 'r'; }
};

// One device-mapper `linear` target line for an LV, in 512-byte sectors:
// `<start_sector> <sector_count> linear <device> <device_sector>`.
struct LinearTarget {
  uint64_t start_sector = 0;
  uint64_t sector_count = 0;
  std::string device;
  uint64_t device_sector = 0;

  friend bool operator==(const LinearTarget&, const LinearTarget&) = default;
};

// The dm table mapping `lv`, given the PVs of its VG (for pe_start).
// Errors: kNotFound when a segment's PV is not in `pvs`; kDataLoss when the
// segments do not cover the LV contiguously from extent 0.
Result<std::vector<LinearTarget>> LinearTable(const Lv& lv,
                                              std::span<const Pv> pvs);

enum class ReportLocking {
  kShared,    // lvm's normal local lock (default).
  kReadOnly,  // `--readonly`: no locks; for hosts that never change metadata.
};

struct LvmOptions {
  std::string binary = "lvm";
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  ReportLocking report_locking = ReportLocking::kShared;
  // When set, asked before every report instead of report_locking: the
  // agent reads with kReadOnly while its host is not the SPM (it changes no
  // metadata then, and never waits behind the SPM's lvextends for lvm's
  // VG lock, which hosts of the rig share through /run/lock/lvm).
  std::function<ReportLocking()> report_locking_fn;
  // Cancelling it terminates running lvm commands (agent shutdown).
  CancellationToken cancel;
  // The lvm command profile (LVM_COMMAND_PROFILE) of LvExtendMany's lvm
  // shell: it must enable log/report_command_log with JSON output, which
  // lvm refuses to take from --config inside the shell. lvm2 ships
  // "lvmdbusd" (/etc/lvm/profile/lvmdbusd.profile) for its D-Bus daemon's
  // shell mode, which is exactly that.
  std::string shell_profile = "lvmdbusd";
  // LVM_SYSTEM_DIR for every lvm process; empty: lvm's own (/etc/lvm).
  // The directory must hold an lvm.conf (WriteLvmSystemDir).
  std::string system_dir;
};

// The lvm.conf the agent's lvm commands read from their private
// LVM_SYSTEM_DIR: `global { use_aio = 0 }` (synchronous O_DIRECT I/O, no
// io_destroy wait), and the directories lvm derives from its system dir
// (backup, archive, profiles, cache) pointed back at `host_dir`, so
// metadata archives and the shell's command profile are where lvm2 keeps
// them. Every other setting the agent relies on travels in `--config`.
std::string PrivateLvmConf(const std::string& host_dir = "/etc/lvm");

// Creates `dir` (0755) and atomically writes PrivateLvmConf(host_dir) to
// `dir`/lvm.conf (0644), replacing an older one. Errors: the Env's
// (kPermissionDenied, kIoError, ...), `dir` unchanged or holding the old or
// the new file. Blocking (file I/O); thread-safe for distinct dirs, and
// concurrent writers of the same dir each leave a complete file.
Status WriteLvmSystemDir(Env& env, const std::string& dir,
                         const std::string& host_dir = "/etc/lvm");


// Whether pvcreate overwrites an existing PV/VG label (`-y -ff`).
enum class Force { kNo, kYes };
// pvchange --metadataignore: whether a PV's metadata areas are used.
enum class MetadataIgnore { kNo, kYes };

struct PvCreateSpec {
  DeviceList devices;
  uint64_t metadata_size_bytes = kPvMetadataSizeBytes;
  int metadata_copies = 2;
  // oVirt creates PVs with ignored metadata areas and then enables them on
  // the first PV only (PvChangeMetadataIgnore).
  MetadataIgnore metadata_ignore = MetadataIgnore::kYes;
  Force force = Force::kNo;
};

struct VgCreateSpec {
  std::string name;
  DeviceList pvs;
  uint64_t extent_size_bytes = kExtentSizeBytes;
  std::vector<std::string> tags;
};

// An LV size: whole MiB (rounded up by lvm to extents) or whole extents.
struct LvSize {
  enum class Unit { kMiB, kExtents };
  Unit unit = Unit::kMiB;
  uint64_t value = 0;

  static LvSize MiB(uint64_t mib) { return {Unit::kMiB, mib}; }
  static LvSize Extents(uint64_t n) { return {Unit::kExtents, n}; }

  // The size in bytes in a VG with extents of `extent_size_bytes`.
  uint64_t Bytes(uint64_t extent_size_bytes) const {
    return unit == Unit::kMiB ? value * kMiB : value * extent_size_bytes;
  }
};

// One LV of an LvExtendMany batch.
struct LvExtendItem {
  std::string lv;
  LvSize size;
};

enum class Contiguous { kNo, kYes };

struct LvCreateSpec {
  std::string vg;
  std::string name;
  LvSize size;
  std::vector<std::string> tags;
  Contiguous contiguous = Contiguous::kNo;
  // When set, allocate only from this PV (oVirt puts `metadata` on the PV
  // holding the VG metadata).
  std::string pv;
};

struct TagChange {
  std::vector<std::string> add;
  std::vector<std::string> del;
};

enum class Permission { kReadOnly, kReadWrite };

class Lvm {
 public:
  // `runner` must outlive the Lvm.
  Lvm(ProcessRunner& runner, LvmOptions options);

  // --- PVs -----------------------------------------------------------------
  // `devices` is the per-call device filter; every command scans only those.
  Status PvCreate(const DeviceList& devices, const PvCreateSpec& spec);
  Status PvChangeMetadataIgnore(const DeviceList& devices,
                                const std::string& pv, MetadataIgnore ignore);
  Status PvResize(const DeviceList& devices, const std::string& pv);
  // PVs among `pvs` (all filtered devices when empty).
  Result<std::vector<Pv>> Pvs(const DeviceList& devices,
                              const std::vector<std::string>& pvs = {});

  // --- VGs -----------------------------------------------------------------
  Status VgCreate(const DeviceList& devices, const VgCreateSpec& spec);
  Status VgExtend(const DeviceList& devices, const std::string& vg,
                  const DeviceList& new_pvs);
  Status VgChangeTags(const DeviceList& devices, const std::string& vg,
                      const TagChange& change);
  // `vgremove -f`: removes the VG and all its LVs (tests, domain format).
  Status VgRemove(const DeviceList& devices, const std::string& vg);
  // VGs named in `vgs` (all visible when empty). A named VG that does not
  // exist is kNotFound.
  Result<std::vector<Vg>> Vgs(const DeviceList& devices,
                              const std::vector<std::string>& vgs = {});
  Result<Vg> GetVg(const DeviceList& devices, const std::string& vg);

  // --- LVs -----------------------------------------------------------------
  Status LvCreate(const DeviceList& devices, const LvCreateSpec& spec);
  // Grows to `size` (rounded up to extents). kFailedPrecondition when that
  // is not larger than the LV (LvmCache::LvExtend treats that as done).
  Status LvExtend(const DeviceList& devices, const std::string& vg,
                  const std::string& lv, LvSize size);
  // Many LvExtends of one VG in ONE lvm process: lvm's shell reads
  // `lvextend <same options as LvExtend> vg/lv` + `lastlog` per item from
  // stdin (LVM_COMMAND_PROFILE=options.shell_profile), and each command's
  // outcome is read from its JSON command log (ParseLvmShellLog). Returns
  // one Status per item, in order, each what LvExtend would have returned
  // (the error from lvm's messages, through LvmFailure). The batch itself
  // fails (the caller should fall back to LvExtend per LV) when the
  // process could not start, failed, timed out, or its output does not
  // follow the protocol: kUnknown/kDeadlineExceeded/kCancelled or kDataLoss.
  // Names that are not plain lvm names are kInvalidArgument for the batch.
  Result<std::vector<Status>> LvExtendMany(
      const DeviceList& devices, const std::string& vg,
      const std::vector<LvExtendItem>& items);
  // Shrinks to `size` (`--force`: the caller owns the data layout).
  Status LvReduce(const DeviceList& devices, const std::string& vg,
                  const std::string& lv, LvSize size);
  Status LvRemove(const DeviceList& devices, const std::string& vg,
                  const std::vector<std::string>& lvs);
  Status LvChangeTags(const DeviceList& devices, const std::string& vg,
                      const std::string& lv, const TagChange& change);
  Status LvChangePermission(const DeviceList& devices, const std::string& vg,
                            const std::string& lv, Permission permission);
  Status LvRename(const DeviceList& devices, const std::string& vg,
                  const std::string& from, const std::string& to);
  // All LVs of `vg` with their segments.
  Result<std::vector<Lv>> Lvs(const DeviceList& devices, const std::string& vg);
  // One LV; kNotFound (610) when it does not exist.
  Result<Lv> GetLv(const DeviceList& devices, const std::string& vg,
                   const std::string& lv);

 private:
  enum class Kind { kChange, kReport };
  // LVM_SUPPRESS_FD_WARNINGS, and LVM_SYSTEM_DIR when configured.
  void SetEnvironment(ProcessSpec& spec) const;
  Result<ProcessResult> RunLvm(const DeviceList& devices,
                               std::string_view command, Kind kind,
                               std::vector<std::string> args);
  Status RunChange(const DeviceList& devices, std::string_view command,
                   std::vector<std::string> args, int storage_code);

  ProcessRunner& runner_;
  const LvmOptions options_;
};

// The `--config` string for `devices` (exposed for tests and the doc).
std::string LvmConfig(const DeviceList& devices);

// The outcomes of `commands` commands named `command` run in lvm's shell,
// each followed by `lastlog`, with a command profile that reports the
// command log as JSON: stdout is a sequence of JSON objects {"log": [...]},
// two per command (the command's own shell-context log, then lastlog's
// full log) and optionally a final empty one. A command succeeded when its
// log's shell-context status row for `command` has log_ret_code 1; else its
// Status is LvmFailure over its error messages (storage_code as there).
// kDataLoss when the text does not have that shape.
Result<std::vector<Status>> ParseLvmShellLog(std::string_view stdout_data,
                                             size_t commands,
                                             std::string_view command,
                                             int storage_code);

// The Status for a failed lvm run (see "Errors" above); OK on success.
Status LvmFailure(const ProcessResult& result, std::string_view command,
                  int storage_code);

}  // namespace sanpool::lvm

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_H_
