#include "base/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "base/log.h"

namespace sanpool {
namespace {

using Nanos = std::chrono::nanoseconds;

constexpr size_t kMaxConfigFile = 1 << 20;
constexpr int64_t kNanosPerSecond = 1'000'000'000;

[[noreturn]] void ConfigBug(const std::string& what) {
  log::Error("config", "programming error: " + what);
  std::abort();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Edit distance counting an adjacent transposition as one edit.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// " (did you mean X?)" for the closest candidate, or "".
std::string Suggest(std::string_view wrong,
                    const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(wrong, c);
    if (best == nullptr || d < best_distance) {
      best = &c;
      best_distance = d;
    }
  }
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, wrong.size() / 4));
  if (best == nullptr || best_distance > limit) return "";
  return " (did you mean " + *best + "?)";
}

std::string_view SectionOf(std::string_view name) {
  return name.substr(0, name.find('.'));
}

std::string_view KeyPartOf(std::string_view name) {
  return name.substr(name.find('.') + 1);
}

bool ValidName(std::string_view name) {
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size() ||
      name.find('.', dot + 1) != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return c == '.' || c == '_' || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
  });
}

// "[-]digits[.digits]"
bool IsDecimal(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  auto digits = [](std::string_view p) {
    return std::all_of(p.begin(), p.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() && frac.empty()) return false;
  if (dot != std::string_view::npos && frac.empty()) return false;
  return digits(whole) && digits(frac);
}

std::string FormatSeconds(Nanos ns) {
  int64_t n = ns.count();
  std::string sign = n < 0 ? "-" : "";
  uint64_t abs = n < 0 ? uint64_t(0) - uint64_t(n) : uint64_t(n);
  std::string out = sign + std::to_string(abs / kNanosPerSecond);
  uint64_t frac = abs % kNanosPerSecond;
  if (frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 9 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

std::string FormatBytes(uint64_t bytes) {
  static const struct {
    const char* suffix;
    uint64_t factor;
  } kUnits[] = {{"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20},
                {"KiB", 1ull << 10}};
  for (const auto& u : kUnits) {
    if (bytes != 0 && bytes % u.factor == 0) {
      return std::to_string(bytes / u.factor) + u.suffix;
    }
  }
  return std::to_string(bytes);
}

Status OutOfBounds(const ConfigKey& key, std::string_view text,
                   std::string_view side, const std::string& bound) {
  return InvalidArgumentError(key.name + ": " + std::string(text) + " is " +
                              std::string(side) + " " + bound);
}

Result<ConfigValue> ParseInt(const ConfigKey& key, std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgumentError(key.name + ": " + std::string(text) +
                                " is out of range");
  }
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgumentError(key.name + ": " + Quote(text) +
                                " is not an integer");
  }
  if (v < key.min) {
    return OutOfBounds(key, text, "below the minimum", std::to_string(key.min));
  }
  if (v > key.max) {
    return OutOfBounds(key, text, "above the maximum", std::to_string(key.max));
  }
  return ConfigValue(v);
}

Result<ConfigValue> ParseBool(const ConfigKey& key, std::string_view text) {
  std::string v = Lower(text);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return ConfigValue(true);
  if (v == "false" || v == "no" || v == "off" || v == "0") {
    return ConfigValue(false);
  }
  return InvalidArgumentError(key.name + ": " + Quote(text) +
                              " is not a boolean (true/false, yes/no, on/off, "
                              "1/0)");
}

Result<ConfigValue> ParseDuration(const ConfigKey& key, std::string_view text) {
  static const struct {
    const char* suffix;
    double nanos;
  } kUnits[] = {{"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  std::string_view number = text;
  double unit = 1e9;
  for (const auto& u : kUnits) {
    if (text.ends_with(u.suffix)) {
      number = Trim(text.substr(0, text.size() - std::strlen(u.suffix)));
      unit = u.nanos;
      break;
    }
  }
  auto bad = [&] {
    return InvalidArgumentError(
        key.name + ": " + Quote(text) +
        " is not a duration (seconds such as 30 or 0.5, or a number with "
        "ms/s/m/h)");
  };
  if (!IsDecimal(number)) return bad();
  double value = std::strtod(std::string(number).c_str(), nullptr);
  double ns = std::round(value * unit);
  if (!std::isfinite(ns) || std::fabs(ns) >= 9.2e18) {
    return InvalidArgumentError(key.name + ": " + std::string(text) +
                                " is out of range");
  }
  Nanos v(static_cast<int64_t>(ns));
  if (v.count() < key.min) {
    return OutOfBounds(key, text, "below the minimum",
                       FormatSeconds(Nanos(key.min)) + "s");
  }
  if (v.count() > key.max) {
    return OutOfBounds(key, text, "above the maximum",
                       FormatSeconds(Nanos(key.max)) + "s");
  }
  return ConfigValue(v);
}

Result<ConfigValue> ParseSize(const ConfigKey& key, std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  std::string suffix = Lower(Trim(text.substr(digits)));
  uint64_t factor = 0;
  if (suffix.empty() || suffix == "b") factor = 1;
  if (suffix == "k" || suffix == "kib") factor = 1ull << 10;
  if (suffix == "m" || suffix == "mib") factor = 1ull << 20;
  if (suffix == "g" || suffix == "gib") factor = 1ull << 30;
  if (suffix == "t" || suffix == "tib") factor = 1ull << 40;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (digits == 0 || factor == 0 || (ec != std::errc() &&
                                     ec != std::errc::result_out_of_range)) {
    return InvalidArgumentError(
        key.name + ": " + Quote(text) +
        " is not a size (bytes, or a number with K/KiB, M/MiB, G/GiB, T/TiB)");
  }
  (void)end;
  const uint64_t kLimit = std::numeric_limits<int64_t>::max();
  if (ec == std::errc::result_out_of_range || n > kLimit / factor) {
    return InvalidArgumentError(key.name + ": " + std::string(text) +
                                " is out of range");
  }
  uint64_t v = n * factor;
  if (v < static_cast<uint64_t>(std::max<int64_t>(key.min, 0))) {
    return OutOfBounds(key, text, "below the minimum",
                       FormatBytes(static_cast<uint64_t>(key.min)));
  }
  if (v > static_cast<uint64_t>(key.max)) {
    return OutOfBounds(key, text, "above the maximum",
                       FormatBytes(static_cast<uint64_t>(key.max)));
  }
  return ConfigValue(v);
}

Result<ConfigValue> ParseEnum(const ConfigKey& key, std::string_view text) {
  for (const std::string& a : key.allowed) {
    if (a == text) return ConfigValue(a);
  }
  std::string list;
  for (const std::string& a : key.allowed) {
    list += (list.empty() ? "" : ", ") + a;
  }
  return InvalidArgumentError(key.name + ": " + Quote(text) +
                              " is not one of " + list +
                              Suggest(text, key.allowed));
}

Result<ConfigValue> ParsePath(const ConfigKey& key, std::string_view text) {
  if (!text.empty() && text.front() != '/') {
    return InvalidArgumentError(key.name + ": " + Quote(text) +
                                " is not an absolute path");
  }
  if (text.find('\0') != std::string_view::npos) {
    return InvalidArgumentError(key.name + ": path contains a NUL byte");
  }
  return ConfigValue(std::string(text));
}

std::string Unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  return std::string(value);
}

}  // namespace

std::string_view ConfigTypeName(ConfigType type) {
  switch (type) {
    case ConfigType::kString: return "string";
    case ConfigType::kInt: return "int";
    case ConfigType::kBool: return "bool";
    case ConfigType::kDuration: return "duration";
    case ConfigType::kSize: return "size";
    case ConfigType::kEnum: return "enum";
    case ConfigType::kPath: return "path";
  }
  return "?";
}

Result<ConfigValue> ParseConfigValue(const ConfigKey& key,
                                     std::string_view text) {
  switch (key.type) {
    case ConfigType::kString: return ConfigValue(std::string(text));
    case ConfigType::kInt: return ParseInt(key, text);
    case ConfigType::kBool: return ParseBool(key, text);
    case ConfigType::kDuration: return ParseDuration(key, text);
    case ConfigType::kSize: return ParseSize(key, text);
    case ConfigType::kEnum: return ParseEnum(key, text);
    case ConfigType::kPath: return ParsePath(key, text);
  }
  return InternalError("unknown config type");
}

std::string FormatConfigValue(const ConfigKey& key, const ConfigValue& value) {
  switch (key.type) {
    case ConfigType::kString:
    case ConfigType::kEnum:
    case ConfigType::kPath:
      return std::get<std::string>(value);
    case ConfigType::kInt: return std::to_string(std::get<int64_t>(value));
    case ConfigType::kBool: return std::get<bool>(value) ? "true" : "false";
    case ConfigType::kDuration: return FormatSeconds(std::get<Nanos>(value));
    case ConfigType::kSize: return FormatBytes(std::get<uint64_t>(value));
  }
  return "?";
}

// ---- ConfigSchema -------------------------------------------------------------

ConfigSchema& ConfigSchema::Add(ConfigKey key) {
  if (!ValidName(key.name)) {
    ConfigBug("config key " + Quote(key.name) + " is not section.key");
  }
  if (Find(key.name) != nullptr) {
    ConfigBug("config key " + key.name + " declared twice");
  }
  // The default must satisfy the key's own rules.
  Result<ConfigValue> check =
      ParseConfigValue(key, FormatConfigValue(key, key.default_value));
  if (!check.ok()) {
    ConfigBug("default of " + key.name + ": " + check.status().ToString());
  }
  keys_.push_back(std::move(key));
  return *this;
}

namespace {

ConfigKey MakeKey(std::string name, ConfigType type, ConfigValue default_value,
                  std::string description) {
  ConfigKey key;
  key.name = std::move(name);
  key.type = type;
  key.default_value = std::move(default_value);
  key.description = std::move(description);
  return key;
}

}  // namespace

ConfigSchema& ConfigSchema::String(std::string name, std::string default_value,
                                   std::string description) {
  return Add(MakeKey(std::move(name), ConfigType::kString,
                     std::move(default_value), std::move(description)));
}

ConfigSchema& ConfigSchema::Int(std::string name, int64_t default_value,
                                int64_t min, int64_t max,
                                std::string description) {
  ConfigKey key = MakeKey(std::move(name), ConfigType::kInt, default_value,
                          std::move(description));
  key.min = min;
  key.max = max;
  return Add(std::move(key));
}

ConfigSchema& ConfigSchema::Bool(std::string name, bool default_value,
                                 std::string description) {
  return Add(MakeKey(std::move(name), ConfigType::kBool, default_value,
                     std::move(description)));
}

ConfigSchema& ConfigSchema::Duration(std::string name, Nanos default_value,
                                     std::string description, Nanos min,
                                     Nanos max) {
  ConfigKey key = MakeKey(std::move(name), ConfigType::kDuration,
                          default_value, std::move(description));
  key.min = min.count();
  key.max = max.count();
  return Add(std::move(key));
}

ConfigSchema& ConfigSchema::Size(std::string name, uint64_t default_value,
                                 std::string description, uint64_t min,
                                 uint64_t max) {
  const uint64_t kLimit = std::numeric_limits<int64_t>::max();
  if (min > kLimit || max > kLimit) ConfigBug("size bounds of " + name);
  ConfigKey key = MakeKey(std::move(name), ConfigType::kSize, default_value,
                          std::move(description));
  key.min = static_cast<int64_t>(min);
  key.max = static_cast<int64_t>(max);
  return Add(std::move(key));
}

ConfigSchema& ConfigSchema::Enum(std::string name, std::string default_value,
                                 std::vector<std::string> allowed,
                                 std::string description) {
  ConfigKey key = MakeKey(std::move(name), ConfigType::kEnum,
                          std::move(default_value), std::move(description));
  key.allowed = std::move(allowed);
  return Add(std::move(key));
}

ConfigSchema& ConfigSchema::Path(std::string name, std::string default_value,
                                 std::string description) {
  return Add(MakeKey(std::move(name), ConfigType::kPath,
                     std::move(default_value), std::move(description)));
}

const ConfigKey* ConfigSchema::Find(std::string_view name) const {
  for (const ConfigKey& k : keys_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

bool ConfigSchema::HasSection(std::string_view section) const {
  return std::any_of(keys_.begin(), keys_.end(), [&](const ConfigKey& k) {
    return SectionOf(k.name) == section;
  });
}

std::string ConfigSchema::RenderMarkdown() const {
  auto escape = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '|') out += '\\';
      out += c;
    }
    return out;
  };
  auto type_text = [](const ConfigKey& k) {
    std::string t(ConfigTypeName(k.type));
    const int64_t kMin = std::numeric_limits<int64_t>::min();
    const int64_t kMax = std::numeric_limits<int64_t>::max();
    switch (k.type) {
      case ConfigType::kInt:
        t += " (" + std::to_string(k.min) + ".." + std::to_string(k.max) + ")";
        break;
      case ConfigType::kDuration:
        t += " (seconds";
        if (k.min != 0 && k.min != kMin) t += ", min " + FormatSeconds(Nanos(k.min));
        if (k.max != kMax) t += ", max " + FormatSeconds(Nanos(k.max));
        t += ")";
        break;
      case ConfigType::kSize:
        t += " (bytes, K/M/G/T suffixes";
        if (k.min > 0) t += ", min " + FormatBytes(static_cast<uint64_t>(k.min));
        if (k.max != kMax) t += ", max " + FormatBytes(static_cast<uint64_t>(k.max));
        t += ")";
        break;
      case ConfigType::kEnum: {
        t += ": ";
        for (size_t i = 0; i < k.allowed.size(); ++i) {
          t += (i ? ", `" : "`") + k.allowed[i] + "`";
        }
        break;
      }
      default:
        break;
    }
    return t;
  };
  std::string out;
  std::vector<std::string_view> sections;
  for (const ConfigKey& k : keys_) {
    if (std::find(sections.begin(), sections.end(), SectionOf(k.name)) ==
        sections.end()) {
      sections.push_back(SectionOf(k.name));
    }
  }
  for (std::string_view section : sections) {
    if (!out.empty()) out += '\n';
    out += "### [" + std::string(section) + "]\n\n";
    out += "| Key | Type | Default | Description |\n";
    out += "|-----|------|---------|-------------|\n";
    for (const ConfigKey& k : keys_) {
      if (SectionOf(k.name) != section) continue;
      std::string def = FormatConfigValue(k, k.default_value);
      out += "| `" + k.name + "` | " + escape(type_text(k)) + " | " +
             (def.empty() ? "(empty)" : "`" + escape(def) + "`") + " | " +
             escape(k.description) + " |\n";
    }
  }
  return out;
}

// ---- Config -------------------------------------------------------------------

Config::Config(const ConfigSchema& schema) : schema_(schema) {
  for (const ConfigKey& k : schema_.keys()) {
    values_.emplace(k.name, Entry{k.default_value, "default"});
  }
}

Status Config::Load(Env& env, const std::string& path, MissingFile missing) {
  Result<std::string> text = env.ReadFile(path, kMaxConfigFile);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound &&
        missing == MissingFile::kUseDefaults) {
      return Status::Ok();
    }
    return text.status().Annotate("cannot read config");
  }
  return LoadText(*text, path);
}

Status Config::LoadText(std::string_view text, std::string_view source) {
  std::vector<std::string> errors;
  std::map<std::string, Entry, std::less<>> staged;
  std::map<std::string, int, std::less<>> first_line;
  std::string section;
  bool section_known = false;
  std::vector<std::string> sections;
  std::vector<std::string> names;
  for (const ConfigKey& k : schema_.keys()) {
    names.push_back(k.name);
    std::string s(SectionOf(k.name));
    if (std::find(sections.begin(), sections.end(), s) == sections.end()) {
      sections.push_back(s);
    }
  }

  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(
        pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    auto error = [&](const std::string& what) {
      errors.push_back(std::string(source) + ":" + std::to_string(line_no) +
                       ": " + what);
    };
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;

    if (line.front() == '[') {
      if (line.back() != ']') {
        error("malformed section header " + Quote(line) + " (missing ']')");
        section_known = false;
        continue;
      }
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      section_known = schema_.HasSection(section);
      if (!section_known) {
        error("unknown section [" + section + "]" + Suggest(section, sections));
      }
      continue;
    }

    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      error("expected 'key = value', got " + Quote(line));
      continue;
    }
    std::string_view key = Trim(line.substr(0, eq));
    std::string value = Unquote(Trim(line.substr(eq + 1)));
    if (key.empty()) {
      error("missing key before '='");
      continue;
    }
    if (section.empty()) {
      error("key " + std::string(key) +
            " is outside any section (add a [section] line above it)");
      continue;
    }
    if (!section_known) continue;  // already reported once for the section
    std::string name = section + "." + std::string(key);
    const ConfigKey* declared = schema_.Find(name);
    if (declared == nullptr) {
      // The key may exist in another section.
      std::string hint;
      for (const ConfigKey& k : schema_.keys()) {
        if (KeyPartOf(k.name) == key) {
          hint = " (did you mean " + k.name + "?)";
          break;
        }
      }
      error("unknown key " + name + (hint.empty() ? Suggest(name, names) : hint));
      continue;
    }
    if (auto it = first_line.find(name); it != first_line.end()) {
      error("duplicate key " + name + " (first set on line " +
            std::to_string(it->second) + ")");
      continue;
    }
    first_line.emplace(name, line_no);
    Result<ConfigValue> parsed = ParseConfigValue(*declared, value);
    if (!parsed.ok()) {
      error(std::string(parsed.status().message()));
      continue;
    }
    staged[name] = Entry{*std::move(parsed),
                         std::string(source) + ":" + std::to_string(line_no)};
  }

  if (!errors.empty()) {
    std::string message;
    for (const std::string& e : errors) {
      message += (message.empty() ? "" : "\n") + e;
    }
    return InvalidArgumentError(std::move(message));
  }
  for (auto& [name, entry] : staged) values_[name] = std::move(entry);
  return Status::Ok();
}

Status Config::ApplyOverride(std::string_view assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgumentError("--set " + std::string(assignment) +
                                ": expected section.key=value");
  }
  std::string name(Trim(assignment.substr(0, eq)));
  std::string value = Unquote(Trim(assignment.substr(eq + 1)));
  const ConfigKey* declared = schema_.Find(name);
  if (declared == nullptr) {
    std::vector<std::string> names;
    for (const ConfigKey& k : schema_.keys()) names.push_back(k.name);
    return InvalidArgumentError("--set: unknown key " + name +
                                Suggest(name, names));
  }
  ASSIGN_OR_RETURN(ConfigValue parsed,
                   [&]() -> Result<ConfigValue> {
                     Result<ConfigValue> r = ParseConfigValue(*declared, value);
                     if (!r.ok()) return r.status().Annotate("--set");
                     return r;
                   }());
  values_[name] = Entry{std::move(parsed), "--set"};
  return Status::Ok();
}

const ConfigValue& Config::Get(std::string_view name, ConfigType type) const {
  const ConfigKey* key = schema_.Find(name);
  if (key == nullptr) ConfigBug("undeclared config key " + std::string(name));
  if (key->type != type) {
    ConfigBug("config key " + key->name + " is " +
              std::string(ConfigTypeName(key->type)) + ", read as " +
              std::string(ConfigTypeName(type)));
  }
  return values_.find(name)->second.value;
}

const std::string& Config::GetString(std::string_view name) const {
  return std::get<std::string>(Get(name, ConfigType::kString));
}
int64_t Config::GetInt(std::string_view name) const {
  return std::get<int64_t>(Get(name, ConfigType::kInt));
}
bool Config::GetBool(std::string_view name) const {
  return std::get<bool>(Get(name, ConfigType::kBool));
}
std::chrono::nanoseconds Config::GetDuration(std::string_view name) const {
  return std::get<Nanos>(Get(name, ConfigType::kDuration));
}
uint64_t Config::GetSize(std::string_view name) const {
  return std::get<uint64_t>(Get(name, ConfigType::kSize));
}
const std::string& Config::GetEnum(std::string_view name) const {
  return std::get<std::string>(Get(name, ConfigType::kEnum));
}
const std::string& Config::GetPath(std::string_view name) const {
  return std::get<std::string>(Get(name, ConfigType::kPath));
}

const std::string& Config::Source(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    ConfigBug("undeclared config key " + std::string(name));
  }
  return it->second.source;
}

std::string Config::Dump() const {
  std::string out;
  for (const ConfigKey& k : schema_.keys()) {
    const Entry& e = values_.find(k.name)->second;
    std::string v = FormatConfigValue(k, e.value);
    if (v.empty() || std::isspace(static_cast<unsigned char>(v.front())) ||
        std::isspace(static_cast<unsigned char>(v.back()))) {
      v = "\"" + v + "\"";
    }
    out += k.name + " = " + v + "  # " + e.source + "\n";
  }
  return out;
}

}  // namespace sanpool
