// QemuImg: the qemu-img commands the storage code runs, built as argv (never
// a shell) and run through a ProcessRunner, with JSON output parsed by
// Boost.JSON (domains/qemu_img_json.h).
//
//   QemuImg qemu(runner);
//   RETURN_IF_ERROR(qemu.Create({.path = vol, .format = VolumeFormat::kCow,
//                                .size = cap, .backing = parent_uuid,
//                                .backing_format = VolumeFormat::kRaw}));
//   ASSIGN_OR_RETURN(QemuImgInfo info, qemu.Info(vol, VolumeFormat::kCow));
//
// Conventions (oVirt's lib/vdsm/storage/qemuimg.py):
//  * qcow2 images are created with compat=1.1 (domain version >= 4).
//  * A backing file is the parent's bare UUID, relative to the image's own
//    directory (BZ1333627), always with its format (-F): qemu never probes.
//  * Every command that reads an image names its format (-f) when the caller
//    knows it, so a raw image holding a qcow2 header is never misread.
//  * `info` uses --force-share (-U) so it works on images a VM has open.
//
// Errors: a qemu-img that could not start is the runner's error. One that
// ran and failed is CheckExit()'s status (kUnknown with exit code and stderr
// tail as details; kDeadlineExceeded on timeout; kCancelled on cancellation)
// with a storage code by command: create 205 (VolumeCreationError), resize
// 206 (VolumeExtendingError), convert 225 (VolumeCopyError), the read-only
// commands 2001 (MiscFileReadException). Output that does not parse is
// kDataLoss (qemu_img_json.h).
//
// Blocking: every call blocks until qemu-img exits (or its timeout); call
// from a worker thread. Thread-safety: safe to share between threads.
#ifndef SANPOOL_DOMAINS_QEMU_IMG_H_
#define SANPOOL_DOMAINS_QEMU_IMG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/process.h"
#include "base/status.h"
#include "domains/formats/volume_metadata.h"
#include "domains/qemu_img_json.h"

namespace sanpool {

struct QemuImgOptions {
  std::string binary = "/usr/bin/qemu-img";
  // For quick metadata commands (create, info, check, measure, resize).
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // For convert; zero = unlimited (a copy is bounded by cancellation).
  std::chrono::milliseconds convert_timeout{0};
};

// Whether create checks the backing file (safe) or trusts the caller (-u),
// as oVirt does when the parent is not reachable through the given name.
enum class BackingCheck { kSafe, kUnsafe };

struct CreateOptions {
  std::string path;
  formats::VolumeFormat format = formats::VolumeFormat::kCow;
  uint64_t size = 0;  // bytes; 0 = take the backing file's size
  std::string backing;  // relative backing file name, empty = none
  formats::VolumeFormat backing_format = formats::VolumeFormat::kRaw;
  BackingCheck backing_check = BackingCheck::kSafe;
};

// Whether `info` also describes the backing files.
enum class BackingChain { kNo, kYes };

struct ConvertOptions {
  std::string source;
  formats::VolumeFormat source_format = formats::VolumeFormat::kRaw;
  std::string target;
  formats::VolumeFormat target_format = formats::VolumeFormat::kRaw;
  // Passes -n: the target exists already (created by the caller).
  bool target_exists = false;
};

class QemuImg {
 public:
  // `runner` must outlive this object.
  explicit QemuImg(ProcessRunner& runner, QemuImgOptions options = {});

  // The argv each command runs (exposed so tests check them exactly).
  std::vector<std::string> CreateArgv(const CreateOptions& options) const;

  // qemu-img create; compat=1.1 for qcow2. The file may exist (oVirt
  // creates it O_EXCL first and lets qemu-img fill it).
  Status Create(const CreateOptions& options);

  // qemu-img info --output json -U [-f fmt] [--backing-chain] path.
  Result<QemuImgInfo> Info(const std::string& path,
                           std::optional<formats::VolumeFormat> format);
  // The whole chain, top first.
  Result<std::vector<QemuImgInfo>> InfoChain(
      const std::string& path, std::optional<formats::VolumeFormat> format);

  // qemu-img check --output json -f fmt path. Exit 2 (corruptions) and 3
  // (leaks) still return the parsed result; exit 63 (format has no check,
  // raw) is kUnimplemented.
  Result<QemuImgCheck> Check(const std::string& path,
                             formats::VolumeFormat format);

  // qemu-img measure --output json [-f fmt path | --size N] -O out_fmt.
  Result<QemuImgMeasure> Measure(const std::string& path,
                                 formats::VolumeFormat format,
                                 formats::VolumeFormat out_format);
  Result<QemuImgMeasure> MeasureNew(uint64_t size,
                                    formats::VolumeFormat out_format);

  // qemu-img resize -f fmt path size (grow only; oVirt never shrinks).
  Status Resize(const std::string& path, formats::VolumeFormat format,
                uint64_t new_size);

  // qemu-img convert -p -t none -T none -f ... -O ... [-o compat=1.1] src dst.
  // `progress` (may be null) receives percentages 0..100 in order.
  // `cancel` kills the child; the result is then kCancelled and the target
  // is left as it is (the caller removes it).
  //
  // Limitation: ProcessRunner returns a child's stdout only when it exits,
  // so the progress values are delivered after the copy ended, not while it
  // runs. A streaming stdout hook in ProcessSpec would make them live.
  Status Convert(const ConvertOptions& options,
                 const std::function<void(double)>& progress,
                 const CancellationToken& cancel);

 private:
  enum class InfoScope { kImage, kBackingChain };
  // Runs `qemu-img info --output json -U` and returns its stdout.
  Result<std::string> RunInfo(const std::string& path,
                              std::optional<formats::VolumeFormat> format,
                              InfoScope scope);
  Result<ProcessResult> RunQemuImg(std::vector<std::string> args,
                                   std::chrono::milliseconds timeout,
                                   const CancellationToken& cancel);

  ProcessRunner& runner_;
  QemuImgOptions options_;
};

// "raw" / "qcow2" as qemu-img names them.
std::string_view QemuFormatName(formats::VolumeFormat format);

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_QEMU_IMG_H_
