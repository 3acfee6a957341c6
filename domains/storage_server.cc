#include "domains/storage_server.h"

#include <algorithm>
#include <cctype>

#include "base/log.h"
#include "domains/domain_registry.h"
#include "domains/mount_info.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

constexpr std::string_view kLog = "storage-server";
constexpr int kStorageServerDisconnectionError = 452;
constexpr int kStorageTypeError = 468;
constexpr int kMountError = 477;
constexpr size_t kMaxMountInfo = 16 << 20;

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

// A value that becomes one argv element of mount.
Status CheckArg(std::string_view value, std::string_view what) {
  if (value.empty()) return InvalidParameter(std::string(what) + " is empty");
  if (value.front() == '-') {
    return InvalidParameter(std::string(what) + " must not start with '-'");
  }
  if (HasControl(value)) {
    return InvalidParameter(std::string(what) +
                            " holds a control character");
  }
  return Status::Ok();
}

Status CheckOptions(std::string_view options) {
  if (options.empty()) return Status::Ok();
  RETURN_IF_ERROR(CheckArg(options, "mnt_options"));
  if (options.find(' ') != options.npos) {
    return InvalidParameter("mnt_options holds a space");
  }
  return Status::Ok();
}

Status CheckVfsType(std::string_view type) {
  if (type.empty()) return InvalidParameter("vfs_type is required");
  for (char c : type) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '+' && c != '-') {
      return InvalidParameter("vfs_type " + std::string(type) +
                              " has an invalid character");
    }
  }
  return CheckArg(type, "vfs_type");
}

// "srv:/exp/" -> "srv:/exp" (the kernel shows the source without it).
std::string NormalizeSource(std::string_view source) {
  std::string out(source);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

Status CheckLocalPath(std::string_view path) {
  RETURN_IF_ERROR(CheckArg(path, "connection"));
  if (path.front() != '/') {
    return InvalidParameter("local path " + std::string(path) +
                            " is not absolute");
  }
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == path.npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    if (part == "." || part == "..") {
      return InvalidParameter("local path " + std::string(path) +
                              " holds a '.' or '..' component");
    }
    pos = end + 1;
  }
  return Status::Ok();
}

// The oVirt status of a failed connect/disconnect.
int StatusCode(const Status& status, int fallback) {
  if (status.ok()) return 0;
  return status.storage_code() != 0 ? status.storage_code() : fallback;
}

}  // namespace

Result<ConnectionType> ParseConnectionType(std::string_view text) {
  static constexpr std::pair<std::string_view, ConnectionType> kNames[] = {
      {"NFS", ConnectionType::kNfs},         {"FCP", ConnectionType::kFcp},
      {"ISCSI", ConnectionType::kIscsi},     {"LOCALFS", ConnectionType::kLocalFs},
      {"POSIXFS", ConnectionType::kPosixFs}, {"GLUSTERFS", ConnectionType::kGlusterFs},
  };
  for (const auto& [name, type] : kNames) {
    if (text == name || text == std::to_string(static_cast<int>(type))) {
      return type;
    }
  }
  return InvalidParameter("unknown domainType " + std::string(text));
}

std::string_view ConnectionTypeName(ConnectionType type) {
  switch (type) {
    case ConnectionType::kNfs: return "NFS";
    case ConnectionType::kFcp: return "FCP";
    case ConnectionType::kIscsi: return "ISCSI";
    case ConnectionType::kLocalFs: return "LOCALFS";
    case ConnectionType::kPosixFs: return "POSIXFS";
    case ConnectionType::kGlusterFs: return "GLUSTERFS";
  }
  return "UNKNOWN";
}

StorageServer::StorageServer(Env& env, ProcessRunner& runner, Options options)
    : env_(env), runner_(runner), options_(std::move(options)) {}

std::string StorageServer::NfsOptions(const ConnectionParams& params) {
  std::string out = "soft,nosharecache";
  out += ",timeo=" + std::to_string(params.timeout.value_or(100));
  out += ",retrans=" + std::to_string(params.retrans.value_or(3));
  std::string version =
      params.protocol_version.empty() ? "3" : params.protocol_version;
  if (version != "auto") {
    size_t dot = version.find('.');
    out += ",nfsvers=" + version.substr(0, dot);
    if (dot != version.npos) out += ",minorversion=" + version.substr(dot + 1);
  }
  // The user's options (empty ones dropped), then nolock for v3 and auto
  // unless they ask for "lock" (or already say "nolock"), as oVirt orders
  // them.
  std::vector<std::string> extra;
  for (size_t pos = 0; pos <= params.mnt_options.size();) {
    size_t end = params.mnt_options.find(',', pos);
    if (end == std::string::npos) end = params.mnt_options.size();
    if (end > pos) extra.push_back(params.mnt_options.substr(pos, end - pos));
    pos = end + 1;
  }
  auto has = [&extra](std::string_view opt) {
    return std::find(extra.begin(), extra.end(), opt) != extra.end();
  };
  if ((version == "3" || version == "auto") && !has("lock") && !has("nolock")) {
    extra.push_back("nolock");
  }
  for (const std::string& opt : extra) out += "," + opt;
  return out;
}

Result<std::string> StorageServer::LocalPath(
    ConnectionType type, const ConnectionParams& params) const {
  switch (type) {
    case ConnectionType::kLocalFs:
      RETURN_IF_ERROR(CheckLocalPath(params.connection));
      break;
    case ConnectionType::kNfs:
    case ConnectionType::kPosixFs:
      RETURN_IF_ERROR(CheckArg(params.connection, "connection"));
      break;
    default:
      return Status(Code::kUnimplemented,
                    "storage connections of type " +
                        std::string(ConnectionTypeName(type)) +
                        " are not supported",
                    kStorageTypeError);
  }
  return MountDirFor(options_.mnt_root, NormalizeSource(params.connection));
}

Result<std::vector<std::string>> StorageServer::MountArgv(
    ConnectionType type, const ConnectionParams& params,
    const std::string& dir) const {
  RETURN_IF_ERROR(CheckArg(params.connection, "connection"));
  RETURN_IF_ERROR(CheckOptions(params.mnt_options));
  std::vector<std::string> argv = {options_.mount_binary, "-t"};
  if (type == ConnectionType::kNfs) {
    if (params.connection.find(":/") == std::string::npos) {
      return InvalidParameter("NFS connection " + params.connection +
                              " is not server:/path");
    }
    const std::string& v = params.protocol_version;
    size_t dot = v.find('.');
    bool valid_version =
        v.empty() || v == "auto" ||
        (v.find_first_not_of("0123456789.") == v.npos && dot != 0 &&
         dot + 1 != v.size() &&
         (dot == v.npos || v.find('.', dot + 1) == v.npos));
    if (!valid_version) {
      return InvalidParameter("protocol_version " + v + " is invalid");
    }
    if ((params.timeout && *params.timeout <= 0) ||
        (params.retrans && *params.retrans < 0)) {
      return InvalidParameter("NFS timeout/retrans out of range");
    }
    argv.insert(argv.end(), {"nfs", "-o", NfsOptions(params)});
  } else if (type == ConnectionType::kPosixFs) {
    RETURN_IF_ERROR(CheckVfsType(params.vfs_type));
    argv.push_back(params.vfs_type);
    if (!params.mnt_options.empty()) {
      argv.insert(argv.end(), {"-o", params.mnt_options});
    }
  } else {
    return InvalidParameter("not a mount type: " +
                            std::string(ConnectionTypeName(type)));
  }
  argv.push_back(NormalizeSource(params.connection));
  argv.push_back(dir);
  return argv;
}

std::vector<ConnectionStatus> StorageServer::Connect(
    ConnectionType type, const std::vector<ConnectionParams>& connections) {
  MutexLock op(op_mu_);
  std::vector<ConnectionStatus> out;
  for (const ConnectionParams& params : connections) {
    Status st = ConnectOne(type, params);
    if (!st.ok()) {
      log::Warning(kLog, "connect failed",
                   {{"id", params.id}, {"connection", params.connection},
                    {"error", st.ToString()}});
    }
    out.push_back({params.id,
                   StatusCode(st, storage_code::kStorageServerConnectionError),
                   st});
  }
  return out;
}

std::vector<ConnectionStatus> StorageServer::Disconnect(
    ConnectionType type, const std::vector<ConnectionParams>& connections) {
  MutexLock op(op_mu_);
  std::vector<ConnectionStatus> out;
  for (const ConnectionParams& params : connections) {
    Status st = DisconnectOne(type, params);
    if (!st.ok()) {
      log::Warning(kLog, "disconnect failed",
                   {{"id", params.id}, {"connection", params.connection},
                    {"error", st.ToString()}});
    }
    out.push_back(
        {params.id, StatusCode(st, kStorageServerDisconnectionError), st});
  }
  return out;
}

std::vector<ActiveConnection> StorageServer::Connections() const {
  MutexLock lock(mu_);
  std::vector<ActiveConnection> out;
  for (const auto& [id, conn] : connections_) out.push_back(conn);
  return out;
}

Status StorageServer::ConnectOne(ConnectionType type,
                                 const ConnectionParams& params) {
  if (params.id.empty() || HasControl(params.id)) {
    return InvalidParameter("connection id is empty or invalid");
  }
  ASSIGN_OR_RETURN(std::string path, LocalPath(type, params));
  RETURN_IF_ERROR(env_.CreateDirs(options_.mnt_root, 0755));
  if (type == ConnectionType::kLocalFs) {
    RETURN_IF_ERROR(LinkLocal(params, path));
  } else {
    RETURN_IF_ERROR(Mount(type, params, path));
  }
  MutexLock lock(mu_);
  connections_[params.id] = ActiveConnection{type, params, path};
  log::Info(kLog, "connected", {{"id", params.id},
                                {"type", ConnectionTypeName(type)},
                                {"path", path}});
  return Status::Ok();
}

Status StorageServer::LinkLocal(const ConnectionParams& params,
                                const std::string& link) {
  Result<FileStat> target = env_.Stat(params.connection);
  if (!target.ok() || target->type != FileType::kDirectory) {
    // oVirt's LocalDirectoryConnection.checkTarget: InvalidParameter.
    return Status(Code::kInvalidArgument,
                  "local path " + params.connection +
                      " does not exist or is not a directory",
                  storage_code::kInvalidParameter);
  }
  Result<FileStat> existing = env_.StatLink(link);
  if (existing.ok()) {
    if (existing->type != FileType::kSymlink) {
      return Status(Code::kFailedPrecondition,
                    link + " exists and is not a symlink",
                    storage_code::kStorageServerConnectionError);
    }
    ASSIGN_OR_RETURN(std::string current, env_.ReadLink(link));
    if (current == params.connection) return Status::Ok();
    RETURN_IF_ERROR(env_.RemoveFile(link));  // oVirt replaces a stale link
  } else if (existing.status().code() != Code::kNotFound) {
    return existing.status();
  }
  return env_.Symlink(params.connection, link);
}

Result<std::optional<std::string>> StorageServer::MountedSource(
    const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text,
                   env_.ReadFile(options_.mountinfo_path, kMaxMountInfo));
  ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ParseMountInfo(text));
  std::optional<MountEntry> entry = FindMount(mounts, dir);
  if (!entry) return std::optional<std::string>();
  return std::optional<std::string>(NormalizeSource(entry->source));
}

Status StorageServer::Mount(ConnectionType type,
                            const ConnectionParams& params,
                            const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> argv,
                   MountArgv(type, params, dir));
  ASSIGN_OR_RETURN(std::optional<std::string> mounted, MountedSource(dir));
  const std::string source = NormalizeSource(params.connection);
  if (mounted) {
    if (*mounted == source) return Status::Ok();
    return Status(Code::kFailedPrecondition,
                  dir + " is already mounted from " + *mounted + ", not " +
                      source,
                  kMountError);
  }
  bool created = false;
  Status made = env_.CreateDir(dir, 0755);
  if (made.ok()) {
    created = true;
  } else if (made.code() != Code::kAlreadyExists) {
    return made;
  }
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = options_.mount_timeout;
  Result<ProcessResult> ran = runner_.Run(spec);
  Status st = ran.ok() ? CheckExit(*ran, "mount") : ran.status();
  if (st.ok()) {
    // The mount point must now be a directory we can use.
    Result<FileStat> root = env_.Stat(dir);
    if (!root.ok() || root->type != FileType::kDirectory) {
      st = Status(Code::kFailedPrecondition,
                  "mounted " + dir + " is not a directory", kMountError);
    }
  }
  if (!st.ok()) {
    if (created) (void)env_.RemoveDir(dir);
    return WithStorageCode(st, kMountError);
  }
  return Status::Ok();
}

Status StorageServer::Unmount(const std::string& dir) {
  ProcessSpec spec;
  spec.argv = {options_.umount_binary, "-f", "-l", dir};
  spec.timeout = options_.umount_timeout;
  ASSIGN_OR_RETURN(ProcessResult result, runner_.Run(spec));
  return WithStorageCode(CheckExit(result, "umount"),
                         kStorageServerDisconnectionError);
}

Status StorageServer::DisconnectOne(ConnectionType type,
                                    const ConnectionParams& params) {
  ASSIGN_OR_RETURN(std::string path, LocalPath(type, params));
  if (type == ConnectionType::kLocalFs) {
    Result<FileStat> existing = env_.StatLink(path);
    if (existing.ok()) {
      if (existing->type != FileType::kSymlink) {
        return Status(Code::kFailedPrecondition,
                      path + " is not a symlink; left alone",
                      kStorageServerDisconnectionError);
      }
      RETURN_IF_ERROR(env_.RemoveFile(path));
    } else if (existing.status().code() != Code::kNotFound) {
      return existing.status();
    }
  } else {
    ASSIGN_OR_RETURN(std::optional<std::string> mounted, MountedSource(path));
    if (mounted) RETURN_IF_ERROR(Unmount(path));
    Status removed = env_.RemoveDir(path);
    if (!removed.ok() && removed.code() != Code::kNotFound) {
      return WithStorageCode(removed, kStorageServerDisconnectionError);
    }
  }
  MutexLock lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    it = it->second.local_path == path ? connections_.erase(it) : ++it;
  }
  connections_.erase(params.id);
  log::Info(kLog, "disconnected", {{"id", params.id}, {"path", path}});
  return Status::Ok();
}

}  // namespace sanpool
