#include "spm/local_state.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "base/log.h"
#include "base/thread_annotations.h"
#include "base/uuid.h"
#include "lease/sanlock.h"

namespace sanpool::spm {
namespace {

// Serializes the read-modify-write of state files in this process.
Mutex& FileMutex() {
  static Mutex mu;
  return mu;
}

Result<int64_t> ParseInt(std::string_view text, const std::string& key) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return DataLossError("local state: bad " + key + ": " + std::string(text));
  }
  return value;
}

Result<int64_t> ParseNumber(const std::map<std::string, std::string>& kv,
                            const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) return DataLossError("local state: no " + key);
  return ParseInt(it->second, key);
}

Result<std::string> ParseUuid(const std::map<std::string, std::string>& kv,
                              const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end() || !IsValidUuid(it->second)) {
    return DataLossError("local state: missing or bad " + key);
  }
  return it->second;
}

bool Plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '/' || c == ':' || c == ',';
}

std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (Plain(c)) {
      out += c;
    } else {
      auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

Result<std::string> Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int value = 0;
    if (i + 2 >= s.size()) {
      return DataLossError("local state: bad escape in a connection");
    }
    auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3,
                                     value, 16);
    if (ec != std::errc() || end != s.data() + i + 3 || value < 0) {
      return DataLossError("local state: bad escape in a connection");
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::string EncodeConnection(const SavedConnection& c) {
  const ConnectionParams& p = c.params;
  std::string out = "type=" + std::string(ConnectionTypeName(c.type)) +
                    "&id=" + Escape(p.id);
  auto add = [&out](std::string_view key, const std::string& value) {
    if (!value.empty()) out += "&" + std::string(key) + "=" + Escape(value);
  };
  add("connection", p.connection);
  add("vfs_type", p.vfs_type);
  add("mnt_options", p.mnt_options);
  add("protocol_version", p.protocol_version);
  if (p.retrans) out += "&retrans=" + std::to_string(*p.retrans);
  if (p.timeout) out += "&timeout=" + std::to_string(*p.timeout);
  return out;
}

Result<SavedConnection> DecodeConnection(std::string_view text) {
  std::map<std::string, std::string> kv;
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view field = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view()
                                         : text.substr(amp + 1);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      return DataLossError("local state: connection field without '='");
    }
    ASSIGN_OR_RETURN(kv[std::string(field.substr(0, eq))],
                     Unescape(field.substr(eq + 1)));
  }
  SavedConnection c;
  Result<ConnectionType> type = ParseConnectionType(kv["type"]);
  if (!type.ok()) {
    return DataLossError("local state: bad connection type: " + kv["type"]);
  }
  c.type = *type;
  c.params.id = kv["id"];
  if (c.params.id.empty()) return DataLossError("local state: connection without id");
  c.params.connection = kv["connection"];
  c.params.vfs_type = kv["vfs_type"];
  c.params.mnt_options = kv["mnt_options"];
  c.params.protocol_version = kv["protocol_version"];
  for (auto [key, field] : {std::pair{"retrans", &c.params.retrans},
                            std::pair{"timeout", &c.params.timeout}}) {
    auto it = kv.find(key);
    if (it == kv.end()) continue;
    ASSIGN_OR_RETURN(int64_t n, ParseInt(it->second, key));
    if (n < 0 || n > 1000000) return DataLossError("local state: bad " + std::string(key));
    *field = static_cast<int>(n);
  }
  return c;
}

Result<LocalState> DecodePool(const std::map<std::string, std::string>& kv) {
  LocalState state;
  ASSIGN_OR_RETURN(state.pool_uuid, ParseUuid(kv, "POOL_UUID"));
  ASSIGN_OR_RETURN(state.master_sd, ParseUuid(kv, "MASTER_SD"));
  ASSIGN_OR_RETURN(int64_t host_id, ParseNumber(kv, "HOST_ID"));
  if (host_id < 1 || host_id > static_cast<int64_t>(lease::kMaxHostId)) {
    return DataLossError("local state: HOST_ID out of range");
  }
  state.host_id = static_cast<uint64_t>(host_id);
  ASSIGN_OR_RETURN(state.master_version, ParseNumber(kv, "MASTER_VERSION"));
  return state;
}

Result<LocalStateFile> LoadFile(Env& env, const std::string& path) {
  ASSIGN_OR_RETURN(bool exists, env.Exists(path));
  if (!exists) return LocalStateFile();
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(path, 1024 * 1024));
  return DecodeLocalStateFile(text);
}

// For the writers: a damaged file is replaced rather than blocking them.
LocalStateFile LoadForUpdate(Env& env, const std::string& path) {
  Result<LocalStateFile> file = LoadFile(env, path);
  if (file.ok()) return std::move(*file);
  log::Warning("local-state", "replacing an unreadable state file",
               {{"path", path}, {"error", file.status().ToString()}});
  return LocalStateFile();
}

Status StoreFile(Env& env, const std::string& path,
                 const LocalStateFile& file) {
  if (!file.pool && file.connections.empty()) {
    ASSIGN_OR_RETURN(bool exists, env.Exists(path));
    if (!exists) return Status::Ok();
    return env.RemoveFile(path);
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    RETURN_IF_ERROR(env.CreateDirs(path.substr(0, slash), 0755));
  }
  return env.WriteFileAtomic(path, EncodeLocalStateFile(file), 0600);
}

}  // namespace

std::string EncodeLocalStateFile(const LocalStateFile& file) {
  std::string out = "VERSION=" + std::to_string(kLocalStateVersion) + "\n";
  if (file.pool) {
    const LocalState& state = *file.pool;
    out += "POOL_UUID=" + state.pool_uuid +
           "\nHOST_ID=" + std::to_string(state.host_id) +
           "\nMASTER_SD=" + state.master_sd +
           "\nMASTER_VERSION=" + std::to_string(state.master_version) + "\n";
  }
  for (const SavedConnection& c : file.connections) {
    out += "CONNECTION=" + EncodeConnection(c) + "\n";
  }
  return out;
}

Result<LocalStateFile> DecodeLocalStateFile(std::string_view text) {
  std::map<std::string, std::string> kv;
  std::vector<std::string_view> connections;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view()
                                        : text.substr(nl + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return DataLossError("local state: line without '='");
    }
    std::string key(line.substr(0, eq));
    if (key == "CONNECTION") {
      connections.push_back(line.substr(eq + 1));
    } else {
      kv[key] = std::string(line.substr(eq + 1));
    }
  }
  ASSIGN_OR_RETURN(int64_t version, ParseNumber(kv, "VERSION"));
  if (version != 1 && version != kLocalStateVersion) {
    return InvalidArgumentError("local state: unsupported VERSION " +
                                std::to_string(version));
  }
  LocalStateFile file;
  // Version 1 always held a membership; version 2 holds all of it or none.
  const bool any_pool = kv.count("POOL_UUID") || kv.count("HOST_ID") ||
                        kv.count("MASTER_SD") || kv.count("MASTER_VERSION");
  if (version == 1 || any_pool) {
    ASSIGN_OR_RETURN(LocalState state, DecodePool(kv));
    file.pool = std::move(state);
  }
  if (version == 1) return file;
  for (std::string_view line : connections) {
    ASSIGN_OR_RETURN(SavedConnection c, DecodeConnection(line));
    std::erase_if(file.connections, [&c](const SavedConnection& o) {
      return o.params.id == c.params.id;
    });
    file.connections.push_back(std::move(c));
  }
  return file;
}

std::string EncodeLocalState(const LocalState& state) {
  return EncodeLocalStateFile({.pool = state, .connections = {}});
}

Result<LocalState> DecodeLocalState(std::string_view text) {
  ASSIGN_OR_RETURN(LocalStateFile file, DecodeLocalStateFile(text));
  if (!file.pool) return DataLossError("local state: no pool membership");
  return std::move(*file.pool);
}

Result<std::optional<LocalState>> LoadLocalState(Env& env,
                                                 const std::string& path) {
  ASSIGN_OR_RETURN(LocalStateFile file, LoadFile(env, path));
  return std::move(file.pool);
}

Status SaveLocalState(Env& env, const std::string& path,
                      const LocalState& state) {
  MutexLock lock(FileMutex());
  LocalStateFile file = LoadForUpdate(env, path);
  file.pool = state;
  return StoreFile(env, path, file);
}

Status RemoveLocalState(Env& env, const std::string& path) {
  MutexLock lock(FileMutex());
  LocalStateFile file = LoadForUpdate(env, path);
  file.pool.reset();
  return StoreFile(env, path, file);
}

Result<std::vector<SavedConnection>> LoadSavedConnections(
    Env& env, const std::string& path) {
  ASSIGN_OR_RETURN(LocalStateFile file, LoadFile(env, path));
  return std::move(file.connections);
}

Status UpdateSavedConnections(Env& env, const std::string& path,
                              const std::vector<SavedConnection>& connected,
                              const std::vector<std::string>& disconnected) {
  MutexLock lock(FileMutex());
  LocalStateFile file = LoadForUpdate(env, path);
  const LocalStateFile before = file;
  auto forget = [&file](const std::string& id) {
    std::erase_if(file.connections, [&id](const SavedConnection& c) {
      return c.params.id == id;
    });
  };
  for (const std::string& id : disconnected) forget(id);
  for (const SavedConnection& c : connected) {
    forget(c.params.id);
    file.connections.push_back(c);
  }
  if (file == before) return Status::Ok();
  return StoreFile(env, path, file);
}

}  // namespace sanpool::spm
