// Config: a validated INI-style configuration with a schema declared in code.
//
// The file format:
//
//   # comment            (also "; comment"; only whole-line comments)
//   [rpc]
//   port = 54321
//   tls = yes
//   [mailbox]
//   poll_interval = 0.05        # NOT a comment: inline comments are not supported
//
// Whitespace around section names, keys and values is trimmed; a value may be
// wrapped in double quotes to keep leading/trailing spaces. Keys are named
// "section.key". A section may be opened more than once; a key may be set
// only once per file.
//
// The schema declares every key with a type, a default and a description:
//
//   ConfigSchema schema;
//   schema.Int("rpc.port", 54321, 1, 65535, "TCP port of the JSON-RPC server")
//         .Bool("rpc.tls", true, "Require mutual TLS on TCP listeners")
//         .Duration("mailbox.poll_interval", 50ms, "How often the SPM polls");
//   Config config(schema);
//   RETURN_IF_ERROR(config.Load(env, "/etc/sanpool/agent.conf",
//                               MissingFile::kUseDefaults));
//   for (const auto& s : set_flags) RETURN_IF_ERROR(config.ApplyOverride(s));
//   int port = config.GetInt("rpc.port");
//
// Value syntax per type:
//   string    any text
//   int       decimal integer within [min, max]
//   bool      true/false, yes/no, on/off, 1/0 (case-insensitive)
//   duration  seconds, integer or decimal ("30", "0.05"), or with a unit
//             suffix ms/s/m/h ("50ms", "2m"); within [min, max]
//   size      bytes, with an optional binary suffix K/KiB, M/MiB, G/GiB,
//             T/TiB (K = 1024; "512M", "1GiB", "4096"); within [min, max]
//   enum      one of the allowed strings (case-sensitive)
//   path      an absolute path, or empty for "not set"
//
// Error policy: anything from the file or an override is user input; it never
// crashes, it becomes kInvalidArgument with a message naming the place:
//   "agent.conf:12: unknown key rpc.prot (did you mean rpc.port?)"
//   "agent.conf:3: rpc.port: 70000 is above the maximum 65535"
// All errors of a file are reported (one per line of the message) and a
// failed Load or ApplyOverride leaves the Config unchanged. Programming errors
// (declaring a key twice, a default outside its range, Get* of an undeclared
// key or with the wrong type) abort with a message.
//
// Thread-safety: ConfigSchema and Config are not synchronised: build and load
// on one thread, then share const references (the getters are const).
#ifndef SANPOOL_BASE_CONFIG_H_
#define SANPOOL_BASE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace sanpool {

enum class ConfigType { kString, kInt, kBool, kDuration, kSize, kEnum, kPath };

std::string_view ConfigTypeName(ConfigType type);

// A parsed value. Durations are nanoseconds; sizes are bytes.
using ConfigValue =
    std::variant<std::string, int64_t, bool, std::chrono::nanoseconds, uint64_t>;

// One declared key.
struct ConfigKey {
  std::string name;  // "section.key"
  ConfigType type = ConfigType::kString;
  ConfigValue default_value;
  std::string description;
  // Bounds for kInt (as int64), kDuration (nanoseconds) and kSize (bytes).
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  std::vector<std::string> allowed;  // kEnum
};

class ConfigSchema {
 public:
  using Nanos = std::chrono::nanoseconds;

  // Each declaring function aborts on a programming error: a name that is
  // not "section.key" ([a-z0-9_] parts), a duplicate, or a default outside
  // its own constraints. They return *this for chaining.
  ConfigSchema& String(std::string name, std::string default_value,
                       std::string description);
  ConfigSchema& Int(std::string name, int64_t default_value, int64_t min,
                    int64_t max, std::string description);
  ConfigSchema& Bool(std::string name, bool default_value,
                     std::string description);
  ConfigSchema& Duration(std::string name, Nanos default_value,
                         std::string description, Nanos min = Nanos::zero(),
                         Nanos max = Nanos::max());
  ConfigSchema& Size(std::string name, uint64_t default_value,
                     std::string description, uint64_t min = 0,
                     uint64_t max = std::numeric_limits<int64_t>::max());
  ConfigSchema& Enum(std::string name, std::string default_value,
                     std::vector<std::string> allowed,
                     std::string description);
  ConfigSchema& Path(std::string name, std::string default_value,
                     std::string description);

  // Null if not declared.
  const ConfigKey* Find(std::string_view name) const;
  // Declared keys, in declaration order.
  const std::vector<ConfigKey>& keys() const { return keys_; }
  bool HasSection(std::string_view section) const;

  // A Markdown table of every key: name, type and constraints, default,
  // description; grouped by section in declaration order. For doc/config.md.
  std::string RenderMarkdown() const;

 private:
  ConfigSchema& Add(ConfigKey key);

  std::vector<ConfigKey> keys_;
};

// Parses `text` as a value of `key`'s type and checks its constraints. The
// error message is "<key name>: <why>", e.g. "rpc.port: 70000 is above the
// maximum 65535".
Result<ConfigValue> ParseConfigValue(const ConfigKey& key,
                                     std::string_view text);
// The canonical text of a value ("54321", "true", "0.05", "1GiB").
std::string FormatConfigValue(const ConfigKey& key, const ConfigValue& value);

// Whether Load accepts a missing file.
enum class MissingFile { kError, kUseDefaults };

class Config {
 public:
  // Starts with every key at its default. The schema is copied.
  explicit Config(const ConfigSchema& schema);

  // Reads and applies `path` (at most 1 MiB). Messages name the path as
  // given: "/etc/sanpool/agent.conf:12: ...". A missing file is kNotFound unless
  // kUseDefaults. Keys set by earlier loads or overrides stay set unless the
  // file sets them again.
  Status Load(Env& env, const std::string& path, MissingFile missing);
  // Parses `text` as a file named `source` (for tests and embedded configs).
  Status LoadText(std::string_view text, std::string_view source);
  // Applies one "section.key=value" (a --set flag); later overrides win.
  Status ApplyOverride(std::string_view assignment);

  // Typed getters. Abort if `name` is undeclared or of another type.
  const std::string& GetString(std::string_view name) const;  // kString
  int64_t GetInt(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  std::chrono::nanoseconds GetDuration(std::string_view name) const;
  uint64_t GetSize(std::string_view name) const;
  const std::string& GetEnum(std::string_view name) const;
  const std::string& GetPath(std::string_view name) const;

  // Where the value of `name` came from: "default", "agent.conf:12" or
  // "--set". Aborts if undeclared.
  const std::string& Source(std::string_view name) const;
  // "section.key = value  # source" for every key, for logs and `config dump`.
  std::string Dump() const;

  const ConfigSchema& schema() const { return schema_; }

 private:
  struct Entry {
    ConfigValue value;
    std::string source;
  };
  const ConfigValue& Get(std::string_view name, ConfigType type) const;

  ConfigSchema schema_;
  std::map<std::string, Entry, std::less<>> values_;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_CONFIG_H_
