#include "domains/mount_info.h"

namespace sanpool {
namespace {

std::string Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      std::string_view digits = field.substr(i + 1, 3);
      bool octal = digits.size() == 3;
      for (char c : digits) octal = octal && c >= '0' && c <= '7';
      if (octal) {
        out.push_back(static_cast<char>((digits[0] - '0') * 64 +
                                        (digits[1] - '0') * 8 +
                                        (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t start = line.find_first_not_of(' ', pos);
    if (start == line.npos) break;
    size_t end = line.find(' ', start);
    if (end == line.npos) end = line.size();
    fields.push_back(line.substr(start, end - start));
    pos = end;
  }
  return fields;
}

}  // namespace

Result<std::vector<MountEntry>> ParseMountInfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == text.npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    std::vector<std::string_view> f = SplitFields(line);
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") ++sep;
    // Up to the separator: 6 fixed fields; after it: type, source, options.
    if (f.size() < 6 || sep + 3 > f.size()) {
      return DataLossError("mountinfo line " + std::to_string(line_no) +
                           " is malformed: " + std::string(line));
    }
    mounts.push_back(MountEntry{.mount_point = Unescape(f[4]),
                                .fs_type = std::string(f[sep + 1]),
                                .source = Unescape(f[sep + 2]),
                                .options = std::string(f[5])});
  }
  return mounts;
}

std::optional<MountEntry> FindMount(const std::vector<MountEntry>& mounts,
                                    std::string_view mount_point) {
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->mount_point == mount_point) return *it;
  }
  return std::nullopt;
}

}  // namespace sanpool
