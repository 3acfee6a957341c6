#include "domains/formats/lvm_tag_codec.h"

#include <cctype>

#include "domains/formats/utf8.h"

namespace sanpool::formats {
namespace {

bool IsPlain(char32_t c) {
  if (c >= 0x80) return false;
  if (std::isalnum(static_cast<int>(c))) return true;
  switch (c) {
    case '_': case '+': case '.': case '-': case '/': case '=': case '!':
    case ':': case '#':
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<std::string> LvmTagEncode(std::string_view text) {
  auto cps = DecodeUtf8(text, "tag text");
  if (!cps.ok()) return InvalidArgumentError(std::string(cps.status().message()));
  std::string out;
  out.reserve(text.size());
  for (char32_t c : *cps) {
    if (IsPlain(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "&" + std::to_string(static_cast<uint32_t>(c)) + "&";
    }
  }
  return out;
}

Result<std::string> LvmTagDecode(std::string_view tag) {
  std::string out;
  out.reserve(tag.size());
  size_t i = 0;
  while (i < tag.size()) {
    if (tag[i] == '&') {
      size_t j = i + 1;
      uint32_t cp = 0;
      while (j < tag.size() && std::isdigit(static_cast<unsigned char>(tag[j])) &&
             j - i <= 8) {
        cp = cp * 10 + static_cast<uint32_t>(tag[j] - '0');
        ++j;
      }
      if (j > i + 1 && j < tag.size() && tag[j] == '&') {
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          return DataLossError("tag escape &" + std::to_string(cp) +
                               "& is not a valid character");
        }
        AppendUtf8(cp, &out);
        i = j + 1;
        continue;
      }
    }
    out.push_back(tag[i]);
    ++i;
  }
  return out;
}

}  // namespace sanpool::formats
