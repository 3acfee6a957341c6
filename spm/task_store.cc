#include "spm/task_store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "base/log.h"
#include "base/uuid.h"

namespace sanpool::spm {
namespace {

constexpr std::string_view kLog = "task-store";
constexpr std::string_view kRecordFile = "task";
constexpr int kFormatVersion = 1;
// A record is a few hundred bytes; anything huge is not one of ours.
constexpr size_t kMaxRecordSize = 1 << 20;

uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Values: '%', newline, CR and the step separator '|' become %XX.
std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '%' || c == '\n' || c == '\r' || c == '|') {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

bool Unescape(std::string_view v, std::string& out) {
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out += v[i];
      continue;
    }
    if (i + 2 >= v.size()) return false;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = hex(v[i + 1]), lo = hex(v[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view v, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = v.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(v.substr(start));
      return out;
    }
    out.push_back(v.substr(start, pos - start));
    start = pos + 1;
  }
}

int64_t ToMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}

WallTime FromMillis(int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::milliseconds(ms)));
}

bool ParseInt(std::string_view v, int64_t& out) {
  if (v.empty() || v.size() > 20) return false;
  std::string s(v);
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = n;
  return true;
}

std::optional<TaskState> ParseState(std::string_view v) {
  for (TaskState s : {TaskState::kInit, TaskState::kQueued,
                      TaskState::kRunning, TaskState::kFinished,
                      TaskState::kAborting}) {
    if (ToString(s) == v) return s;
  }
  return std::nullopt;
}

std::optional<TaskResult> ParseResult(std::string_view v) {
  for (TaskResult r : {TaskResult::kNone, TaskResult::kSuccess,
                       TaskResult::kCleanSuccess, TaskResult::kCleanFailure}) {
    if (ToString(r) == v) return r;
  }
  return std::nullopt;
}

Status Corrupt(std::string what) {
  return Status(Code::kDataLoss, "corrupt task record: " + what,
                kTaskRecordCorruptCode);
}

std::string JoinEscaped(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += '|';
    out += Escape(items[i]);
  }
  return out;
}

bool SplitEscaped(std::string_view v, std::vector<std::string>& out) {
  out.clear();
  if (v.empty()) return true;
  for (std::string_view part : Split(v, '|')) {
    std::string item;
    if (!Unescape(part, item)) return false;
    out.push_back(std::move(item));
  }
  return true;
}

}  // namespace

std::string TaskStore::Encode(const PersistedTask& task) {
  const TaskRecord& r = task.record;
  std::string body;
  auto line = [&](std::string_view key, std::string_view value) {
    body += key;
    body += '=';
    body += value;
    body += '\n';
  };
  line("version", std::to_string(kFormatVersion));
  line("id", Escape(r.id));
  line("verb", Escape(r.verb));
  line("tags", JoinEscaped(r.tags));
  line("state", ToString(r.state));
  line("result", ToString(r.result));
  line("code", std::to_string(r.code));
  line("message", Escape(r.message));
  line("progress", std::to_string(r.progress));
  line("stop_requested", r.stop_requested ? "1" : "0");
  line("start_ms", std::to_string(ToMillis(r.start_time)));
  line("end_ms", r.end_time ? std::to_string(ToMillis(*r.end_time)) : "");
  for (const RecoveryStep& step : task.recovery) {
    std::vector<std::string> fields{step.action};
    fields.insert(fields.end(), step.args.begin(), step.args.end());
    line("recover", JoinEscaped(fields));
  }
  char sum[17];
  std::snprintf(sum, sizeof(sum), "%016" PRIx64, Fnv1a64(body));
  return body + "checksum=" + sum + "\n";
}

Result<PersistedTask> TaskStore::Decode(std::string_view text) {
  // Whole means: ends with a checksum line followed by a newline.
  size_t sum_pos = text.rfind("checksum=");
  if (sum_pos == std::string_view::npos ||
      (sum_pos != 0 && text[sum_pos - 1] != '\n') || text.empty() ||
      text.back() != '\n') {
    return Status(Code::kNotFound, "task record is not whole (torn write)");
  }
  std::string_view body = text.substr(0, sum_pos);
  std::string_view sum =
      text.substr(sum_pos + 9, text.size() - sum_pos - 10);
  char want[17];
  std::snprintf(want, sizeof(want), "%016" PRIx64, Fnv1a64(body));
  if (sum != want) return Corrupt("checksum mismatch");

  PersistedTask task;
  TaskRecord& r = task.record;
  std::map<std::string, std::string, std::less<>> seen;
  bool has_version = false;
  for (std::string_view l : Split(body.substr(0, body.size() - 1), '\n')) {
    if (body.empty()) break;
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) {
      return Corrupt("line without '=': " + std::string(l.substr(0, 40)));
    }
    std::string_view key = l.substr(0, eq);
    std::string_view value = l.substr(eq + 1);
    std::string text_value;
    if (key == "recover") {
      std::vector<std::string> fields;
      if (!SplitEscaped(value, fields) || fields.empty() ||
          fields[0].empty()) {
        return Corrupt("bad recovery step");
      }
      RecoveryStep step{.action = fields[0], .args = {}};
      step.args.assign(fields.begin() + 1, fields.end());
      task.recovery.push_back(std::move(step));
      continue;
    }
    if (seen.count(key) != 0) {
      return Corrupt("duplicate key " + std::string(key));
    }
    seen.emplace(std::string(key), std::string(value));
    int64_t n = 0;
    if (key == "version") {
      if (!ParseInt(value, n) || n != kFormatVersion) {
        return Corrupt("unsupported version " + std::string(value));
      }
      has_version = true;
    } else if (key == "id" || key == "verb" || key == "message") {
      if (!Unescape(value, text_value)) {
        return Corrupt("bad escape in " + std::string(key));
      }
      (key == "id" ? r.id : key == "verb" ? r.verb : r.message) = text_value;
    } else if (key == "tags") {
      if (!SplitEscaped(value, r.tags)) return Corrupt("bad tags");
    } else if (key == "state") {
      std::optional<TaskState> state = ParseState(value);
      if (!state) return Corrupt("bad state " + std::string(value));
      r.state = *state;
    } else if (key == "result") {
      std::optional<TaskResult> result = ParseResult(value);
      if (!result) return Corrupt("bad result " + std::string(value));
      r.result = *result;
    } else if (key == "code" || key == "progress") {
      if (!ParseInt(value, n) || n < 0 || n > 1000000) {
        return Corrupt("bad " + std::string(key));
      }
      (key == "code" ? r.code : r.progress) = static_cast<int>(n);
    } else if (key == "stop_requested") {
      if (value != "0" && value != "1") return Corrupt("bad stop_requested");
      r.stop_requested = value == "1";
    } else if (key == "start_ms") {
      if (!ParseInt(value, n)) return Corrupt("bad start_ms");
      r.start_time = FromMillis(n);
    } else if (key == "end_ms") {
      if (!value.empty()) {
        if (!ParseInt(value, n)) return Corrupt("bad end_ms");
        r.end_time = FromMillis(n);
      }
    }
    // Unknown keys are ignored: a later version may add fields.
  }
  if (!has_version) return Corrupt("no version");
  if (!IsValidUuid(r.id)) return Corrupt("bad id " + r.id);
  if (r.verb.empty()) return Corrupt("no verb");
  if (seen.count("state") == 0) return Corrupt("no state");
  return task;
}

std::string TaskStore::TaskDir(std::string_view id) const {
  return tasks_dir_ + "/" + std::string(id);
}

Status TaskStore::Save(const PersistedTask& task) {
  if (!IsValidUuid(task.record.id)) {
    return InvalidArgumentError("task id is not a UUID: " + task.record.id);
  }
  std::string dir = TaskDir(task.record.id);
  Status made = env_.CreateDir(dir, 0755);
  if (!made.ok() && !IsErrno(made, EEXIST)) return made;
  if (made.ok()) RETURN_IF_ERROR(env_.SyncDir(tasks_dir_));
  return env_.WriteFileAtomic(dir + "/" + std::string(kRecordFile),
                              Encode(task), 0644);
}

Status TaskStore::Remove(std::string_view id) {
  if (!IsValidUuid(id)) {
    return InvalidArgumentError("task id is not a UUID: " + std::string(id));
  }
  std::string dir = TaskDir(id);
  Result<std::vector<std::string>> names = env_.ListDir(dir);
  if (!names.ok()) {
    if (IsErrno(names.status(), ENOENT)) return Status::Ok();
    return names.status();
  }
  for (const std::string& name : *names) {
    Status s = env_.RemoveFile(dir + "/" + name);
    if (!s.ok() && !IsErrno(s, ENOENT)) return s;
  }
  Status s = env_.RemoveDir(dir);
  if (!s.ok() && !IsErrno(s, ENOENT)) return s;
  return env_.SyncDir(tasks_dir_);
}

Result<PersistedTask> TaskStore::Load(std::string_view id) {
  Result<std::string> text = env_.ReadFile(
      TaskDir(id) + "/" + std::string(kRecordFile), kMaxRecordSize);
  if (!text.ok()) {
    if (text.status().code() == Code::kResourceExhausted) {
      return Corrupt("task " + std::string(id) + ": record too large");
    }
    if (IsErrno(text.status(), ENOENT)) {
      return Status(Code::kNotFound,
                    "task " + std::string(id) + " has no record");
    }
    return text.status();
  }
  Result<PersistedTask> task = Decode(*text);
  if (!task.ok()) return task.status().Annotate("task " + std::string(id));
  if (task->record.id != id) {
    return Corrupt("record of " + task->record.id + " in the directory of " +
                   std::string(id));
  }
  return task;
}

Result<TaskStore::Loaded> TaskStore::LoadAll() {
  Loaded out;
  Result<std::vector<std::string>> names = env_.ListDir(tasks_dir_);
  if (!names.ok()) {
    if (IsErrno(names.status(), ENOENT)) return out;
    return names.status();
  }
  std::sort(names->begin(), names->end());
  for (const std::string& name : *names) {
    if (!IsValidUuid(name)) {
      log::Warning(kLog, "ignoring a stray entry in the tasks dir",
                   {{"dir", tasks_dir_}, {"name", name}});
      continue;
    }
    Result<PersistedTask> task = Load(name);
    if (task.ok()) {
      out.tasks.push_back(*std::move(task));
    } else if (task.status().code() == Code::kNotFound) {
      log::Warning(kLog, "ignoring a task without a whole record",
                   {{"task", name}, {"error", task.status().ToString()}});
      out.ignored.push_back(name);
    } else if (task.status().code() == Code::kDataLoss) {
      log::Error(kLog, "corrupt task record left in place",
                 {{"task", name}, {"error", task.status().ToString()}});
      out.corrupt.push_back(name);
    } else {
      return task.status();
    }
  }
  return out;
}

}  // namespace sanpool::spm
