// Structured logging: one line per event, `key=value` fields.
//
//   log::Info("rpc", "listening", {{"addr", "127.0.0.1:54321"}, {"tls", true}});
//
// writes (to stderr by default)
//
//   2026-11-21T10:00:00.123Z info rpc: listening addr=127.0.0.1:54321 tls=true
//
// When stderr is connected to the journal (systemd sets JOURNAL_STREAM), the
// timestamp is dropped and the line starts with a `<N>` syslog priority prefix
// so journald records the level. Values with spaces, quotes or `=` are quoted.
//
// Thread-safety: all functions may be called from any thread; each line is
// written with one write(2) so lines from different threads never interleave.
#ifndef SANPOOL_BASE_LOG_H_
#define SANPOOL_BASE_LOG_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sanpool::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning"/"warn", "error"; false if unknown.
bool ParseLevel(std::string_view text, Level* out);
std::string_view LevelName(Level level);

// One `key=value` field. Strings, integers, floating point and bools convert.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <std::integral T>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, double v);

  std::string_view key;
  std::string value;
};

using Fields = std::initializer_list<Field>;

// Lines below `level` are dropped. Default kInfo.
void SetLevel(Level level);
Level GetLevel();
inline bool Enabled(Level level) {
  return static_cast<int>(level) >= static_cast<int>(GetLevel());
}

// Where lines go. Default: stderr. Tests install a sink to capture lines;
// pass nullptr to restore stderr. The sink receives the formatted line
// without its trailing newline and must be thread-safe.
using Sink = std::function<void(Level, std::string_view line)>;
void SetSink(Sink sink);

// Formats one line (no timestamp/priority prefix): "info rpc: msg k=v".
std::string Format(Level level, std::string_view component,
                   std::string_view message, Fields fields);

void Write(Level level, std::string_view component, std::string_view message,
           Fields fields = {});

inline void Debug(std::string_view c, std::string_view m, Fields f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, c, m, f);
}
inline void Info(std::string_view c, std::string_view m, Fields f = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, c, m, f);
}
inline void Warning(std::string_view c, std::string_view m, Fields f = {}) {
  if (Enabled(Level::kWarning)) Write(Level::kWarning, c, m, f);
}
inline void Error(std::string_view c, std::string_view m, Fields f = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, c, m, f);
}

}  // namespace sanpool::log

#endif  // SANPOOL_BASE_LOG_H_
