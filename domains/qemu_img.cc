#include "domains/qemu_img.h"

#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using formats::VolumeFormat;

// CheckExit()'s status with oVirt's storage code for the command.
Status Failed(const ProcessResult& result, std::string_view what,
              int storage_code) {
  return WithStorageCode(CheckExit(result, what), storage_code);
}

}  // namespace

std::string_view QemuFormatName(VolumeFormat format) {
  return format == VolumeFormat::kCow ? "qcow2" : "raw";
}

QemuImg::QemuImg(ProcessRunner& runner, QemuImgOptions options)
    : runner_(runner), options_(std::move(options)) {}

Result<ProcessResult> QemuImg::RunQemuImg(std::vector<std::string> args,
                                          std::chrono::milliseconds timeout,
                                          const CancellationToken& cancel) {
  ProcessSpec spec;
  spec.argv.reserve(args.size() + 1);
  spec.argv.push_back(options_.binary);
  for (std::string& a : args) spec.argv.push_back(std::move(a));
  // qemu-img localizes nothing we parse, but keep messages stable.
  spec.env_set["LC_ALL"] = "C";
  spec.timeout = timeout;
  spec.cancel = cancel;
  return runner_.Run(spec);
}

std::vector<std::string> QemuImg::CreateArgv(
    const CreateOptions& options) const {
  std::vector<std::string> argv = {options_.binary, "create", "-f",
                                   std::string(QemuFormatName(options.format))};
  if (options.format == VolumeFormat::kCow) {
    argv.insert(argv.end(), {"-o", "compat=1.1"});
  }
  if (!options.backing.empty()) {
    argv.insert(argv.end(),
                {"-b", options.backing, "-F",
                 std::string(QemuFormatName(options.backing_format))});
    if (options.backing_check == BackingCheck::kUnsafe) argv.push_back("-u");
  }
  argv.push_back(options.path);
  if (options.size != 0) argv.push_back(std::to_string(options.size));
  return argv;
}

Status QemuImg::Create(const CreateOptions& options) {
  std::vector<std::string> argv = CreateArgv(options);
  argv.erase(argv.begin());
  ASSIGN_OR_RETURN(ProcessResult r,
                   RunQemuImg(std::move(argv), options_.timeout, {}));
  return Failed(r, "qemu-img create", storage_code::kVolumeCreationError)
      .Annotate(options.path);
}

Result<std::string> QemuImg::RunInfo(const std::string& path,
                                     std::optional<VolumeFormat> format,
                                     InfoScope scope) {
  std::vector<std::string> args = {"info", "--output", "json", "-U"};
  if (scope == InfoScope::kBackingChain) args.push_back("--backing-chain");
  if (format) args.insert(args.end(), {"-f", std::string(QemuFormatName(*format))});
  args.push_back(path);
  ASSIGN_OR_RETURN(ProcessResult r,
                   RunQemuImg(std::move(args), options_.timeout, {}));
  RETURN_IF_ERROR(
      Failed(r, "qemu-img info", storage_code::kMiscFileReadException));
  return std::move(r.stdout_data);
}

Result<QemuImgInfo> QemuImg::Info(const std::string& path,
                                  std::optional<VolumeFormat> format) {
  ASSIGN_OR_RETURN(std::string out, RunInfo(path, format, InfoScope::kImage));
  return ParseQemuImgInfo(out);
}

Result<std::vector<QemuImgInfo>> QemuImg::InfoChain(
    const std::string& path, std::optional<VolumeFormat> format) {
  ASSIGN_OR_RETURN(std::string out, RunInfo(path, format, InfoScope::kBackingChain));
  return ParseQemuImgInfoChain(out);
}

Result<QemuImgCheck> QemuImg::Check(const std::string& path,
                                    VolumeFormat format) {
  ASSIGN_OR_RETURN(
      ProcessResult r,
      RunQemuImg({"check", "--output", "json", "-f",
                  std::string(QemuFormatName(format)), path},
                 options_.timeout, {}));
  // qemu-img check: 0 clean, 2 corruptions, 3 leaks (both still report),
  // 63 the format has no consistency check, 1 the check did not complete.
  if (r.term_signal == 0 && !r.timed_out && !r.cancelled) {
    if (r.exit_code == 0 || r.exit_code == 2 || r.exit_code == 3) {
      return ParseQemuImgCheck(r.stdout_data);
    }
    if (r.exit_code == 63) {
      return Status(Code::kUnimplemented,
                    "qemu-img check: format " +
                        std::string(QemuFormatName(format)) +
                        " has no consistency check",
                    storage_code::kUnsupportedOperation);
    }
  }
  return Failed(r, "qemu-img check", storage_code::kMiscFileReadException);
}

Result<QemuImgMeasure> QemuImg::Measure(const std::string& path,
                                        VolumeFormat format,
                                        VolumeFormat out_format) {
  ASSIGN_OR_RETURN(
      ProcessResult r,
      RunQemuImg({"measure", "--output", "json", "-f",
                  std::string(QemuFormatName(format)), "-O",
                  std::string(QemuFormatName(out_format)), path},
                 options_.timeout, {}));
  RETURN_IF_ERROR(
      Failed(r, "qemu-img measure", storage_code::kMiscFileReadException));
  return ParseQemuImgMeasure(r.stdout_data);
}

Result<QemuImgMeasure> QemuImg::MeasureNew(uint64_t size,
                                           VolumeFormat out_format) {
  ASSIGN_OR_RETURN(
      ProcessResult r,
      RunQemuImg({"measure", "--output", "json", "--size",
                  std::to_string(size), "-O",
                  std::string(QemuFormatName(out_format))},
                 options_.timeout, {}));
  RETURN_IF_ERROR(
      Failed(r, "qemu-img measure", storage_code::kMiscFileReadException));
  return ParseQemuImgMeasure(r.stdout_data);
}

Status QemuImg::Resize(const std::string& path, VolumeFormat format,
                       uint64_t new_size) {
  ASSIGN_OR_RETURN(
      ProcessResult r,
      RunQemuImg({"resize", "-f", std::string(QemuFormatName(format)), path,
                  std::to_string(new_size)},
                 options_.timeout, {}));
  return Failed(r, "qemu-img resize", storage_code::kVolumeExtendingError)
      .Annotate(path);
}

Status QemuImg::Convert(const ConvertOptions& options,
                        const std::function<void(double)>& progress,
                        const CancellationToken& cancel) {
  std::vector<std::string> args = {
      "convert", "-p", "-t", "none", "-T", "none",
      "-f", std::string(QemuFormatName(options.source_format)),
      "-O", std::string(QemuFormatName(options.target_format))};
  if (options.target_format == VolumeFormat::kCow) {
    args.insert(args.end(), {"-o", "compat=1.1"});
  }
  if (options.target_exists) args.push_back("-n");
  args.push_back(options.source);
  args.push_back(options.target);
  ASSIGN_OR_RETURN(
      ProcessResult r,
      RunQemuImg(std::move(args), options_.convert_timeout, cancel));
  if (progress) {
    for (double p : ParseQemuImgProgress(r.stdout_data)) progress(p);
  }
  return Failed(r, "qemu-img convert", storage_code::kVolumeCopyError);
}

}  // namespace sanpool
