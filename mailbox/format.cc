#include "mailbox/format.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "base/uuid.h"

namespace sanpool::mailbox {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

SlotKind ClassifySlot(std::string_view slot) {
  assert(slot.size() == kMessageSize);
  if (slot[0] == 0) return SlotKind::kEmpty;
  if (std::all_of(slot.begin(), slot.end(),
                  [](char c) { return c == kCleanByte; })) {
    return SlotKind::kClean;
  }
  return SlotKind::kMessage;
}

Result<std::string> PackUuid(std::string_view uuid) {
  RETURN_IF_ERROR(ValidateUuid(uuid, "mailbox uuid"));
  std::string bytes;
  bytes.reserve(16);
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (uuid[i] == '-') continue;
    bytes.push_back(static_cast<char>(HexValue(uuid[i]) * 16 +
                                      HexValue(uuid[i + 1])));
    ++i;
  }
  std::reverse(bytes.begin(), bytes.end());
  return bytes;
}

Result<std::string> UnpackUuid(std::string_view packed) {
  if (packed.size() != 16) {
    return DataLossError("mailbox uuid: expected 16 bytes, got " +
                         std::to_string(packed.size()));
  }
  if (std::all_of(packed.begin(), packed.end(),
                  [](char c) { return c == 0; })) {
    return DataLossError("mailbox uuid: nil (all zero bytes)");
  }
  std::string text;
  text.reserve(36);
  for (int i = 15; i >= 0; --i) {
    const auto byte = static_cast<unsigned char>(packed[i]);
    text.push_back(kHexDigits[byte >> 4]);
    text.push_back(kHexDigits[byte & 0xf]);
    // Dashes after RFC bytes 3, 5, 7 and 9 (i counts down from 15).
    if (i == 12 || i == 10 || i == 8 || i == 6) text.push_back('-');
  }
  return text;
}

std::string EncodeSize(uint64_t size_mib) {
  char buf[kSizeDigits + 1];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(size_mib));
  return std::string(buf, kSizeDigits);
}

Result<std::string> EncodeExtend(const ExtendMessage& message) {
  if (message.size_mib > kMaxSizeMiB) {
    return InvalidArgumentError("mailbox: size " +
                                std::to_string(message.size_mib) +
                                " MiB exceeds the format's maximum");
  }
  ASSIGN_OR_RETURN(std::string domain, PackUuid(message.domain_uuid));
  ASSIGN_OR_RETURN(std::string volume, PackUuid(message.volume_uuid));
  std::string out;
  out.reserve(kMessageSize);
  out.push_back(kMessageVersion);
  out.append(kExtendCode);
  out.append(domain);
  out.append(volume);
  out.append(EncodeSize(message.size_mib));
  out.append(kMessageSize - kPaddingOffset, kPaddingByte);
  assert(out.size() == kMessageSize);
  return out;
}

Result<ExtendMessage> DecodeExtend(std::string_view slot) {
  if (slot.size() != kMessageSize) {
    return DataLossError("mailbox message: expected 64 bytes, got " +
                         std::to_string(slot.size()));
  }
  if (slot[0] != kMessageVersion) {
    const auto v = static_cast<unsigned char>(slot[0]);
    return DataLossError(std::string("mailbox message: bad version byte 0x") +
                         kHexDigits[v >> 4] + kHexDigits[v & 0xf]);
  }
  if (slot.substr(kOpcodeOffset, kExtendCode.size()) != kExtendCode) {
    return UnimplementedError("mailbox message: unknown opcode");
  }
  ExtendMessage message;
  ASSIGN_OR_RETURN(message.domain_uuid,
                   UnpackUuid(slot.substr(kDomainOffset, 16)));
  ASSIGN_OR_RETURN(message.volume_uuid,
                   UnpackUuid(slot.substr(kVolumeOffset, 16)));
  uint64_t size = 0;
  for (size_t i = 0; i < kSizeDigits; ++i) {
    const int digit = HexValue(slot[kSizeOffset + i]);
    if (digit < 0) {
      return DataLossError("mailbox message: size field is not hex");
    }
    size = size * 16 + static_cast<uint64_t>(digit);
  }
  message.size_mib = size;
  return message;
}

std::string EncodeReply(std::string_view request, uint64_t size_mib) {
  assert(request.size() == kMessageSize);
  if (size_mib > kMaxSizeMiB) size_mib = 0;
  std::string out(request.substr(0, kHeaderSize));
  out.append(EncodeSize(size_mib));
  out.append(kMessageSize - kPaddingOffset, kPaddingByte);
  return out;
}

bool IsReplyTo(std::string_view request, std::string_view reply) {
  if (request.size() != kMessageSize || reply.size() != kMessageSize) {
    return false;
  }
  if (ClassifySlot(reply) != SlotKind::kMessage) return false;
  return request.substr(0, kHeaderSize) == reply.substr(0, kHeaderSize);
}

std::string CleanMessage() { return std::string(kMessageSize, kCleanByte); }

uint32_t ComputeChecksum(std::string_view mailbox) {
  assert(mailbox.size() == kMailboxSize);
  uint32_t sum = 0;
  for (size_t i = 0; i < kChecksumOffset; ++i) {
    sum += static_cast<unsigned char>(mailbox[i]);
  }
  return sum;
}

void SealMailbox(char* mailbox) {
  const uint32_t sum =
      ComputeChecksum(std::string_view(mailbox, kMailboxSize));
  for (size_t i = 0; i < kChecksumSize; ++i) {
    mailbox[kChecksumOffset + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  }
}

Status VerifyMailbox(std::string_view mailbox) {
  if (mailbox.size() != kMailboxSize) {
    return DataLossError("mailbox: expected 4096 bytes, got " +
                         std::to_string(mailbox.size()));
  }
  uint32_t stored = 0;
  for (size_t i = 0; i < kChecksumSize; ++i) {
    stored |= static_cast<uint32_t>(
                  static_cast<unsigned char>(mailbox[kChecksumOffset + i]))
              << (8 * i);
  }
  const uint32_t computed = ComputeChecksum(mailbox);
  if (stored != computed) {
    return DataLossError("mailbox: checksum mismatch (stored " +
                         std::to_string(stored) + ", computed " +
                         std::to_string(computed) + ")");
  }
  return Status::Ok();
}

std::string EncodeEventBlock(std::string_view token) {
  assert(token.size() == kEventTokenSize);
  std::string block(kMailboxSize, '\0');
  block.replace(0, kEventCode.size(), kEventCode);
  block.replace(kEventCode.size(), kEventTokenSize, token);
  return block;
}

Result<std::string> DecodeEventBlock(std::string_view block) {
  const size_t needed = kEventCode.size() + kEventTokenSize;
  if (block.size() < needed) {
    return DataLossError("mailbox event block: too short");
  }
  if (std::all_of(block.begin(), block.begin() + needed,
                  [](char c) { return c == 0; })) {
    return std::string();
  }
  if (block.substr(0, kEventCode.size()) != kEventCode) {
    return DataLossError("mailbox event block: bad event code");
  }
  return std::string(block.substr(kEventCode.size(), kEventTokenSize));
}

}  // namespace sanpool::mailbox
