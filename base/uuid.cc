#include "base/uuid.h"

#include <string>

namespace sanpool {
namespace {

constexpr size_t kUuidLength = 36;

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

// A short printable rendering of untrusted input for error messages.
std::string Quote(std::string_view value) {
  constexpr size_t kMaxShown = 40;
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kDigits[] = "0123456789abcdef";
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

}  // namespace

bool IsValidUuid(std::string_view value) {
  if (value.size() != kUuidLength) return false;
  for (size_t i = 0; i < kUuidLength; ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? value[i] != '-' : !IsHex(value[i])) return false;
  }
  return true;
}

Status ValidateUuid(std::string_view value, std::string_view what) {
  if (IsValidUuid(value)) return Status::Ok();
  std::string message(what);
  message += ": not a canonical UUID (expected 8-4-4-4-12 hex digits): ";
  message += Quote(value);
  return InvalidArgumentError(std::move(message));
}

}  // namespace sanpool
