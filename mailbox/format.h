// The storage mailbox's on-storage format (oVirt's `storage/mailbox.py`,
// reference §4; prose in doc/formats/mailbox.md).
//
// Two files (block domain: the `inbox` and `outbox` LVs of the master
// domain) hold one 4 KiB mailbox per host id: host `h` owns bytes
// [h*4096, h*4096 + 4096) of each. Hosts write requests into their inbox
// area and read replies from their outbox area; the SPM reads inboxes and
// writes outboxes. A mailbox is 64 slots of 64 bytes; slots 0..62 carry
// messages, slot 63 is reserved and, in the host->SPM direction, its last 4
// bytes hold a checksum of the first 4092 bytes. Host 0 owns no mailbox: the
// first 4 KiB of the inbox is the event block hosts rewrite after each inbox
// write to wake the SPM.
//
// Extend message (64 bytes):
//   [0]      version '1' (0x31); 0x00 marks an empty slot
//   [1,5)    opcode "xtnd"
//   [5,21)   domain UUID, its 16 RFC-4122 bytes in reverse order
//   [21,37)  volume UUID, same encoding
//   [37,53)  size in MiB, 16 lowercase hex digits, zero padded
//   [53,64)  padding, 11 x '0'
// A reply repeats bytes [0,37) of the request with the size that was
// reached: the requested size on success, 0 on failure. CLEAN (64 x 0x01)
// acknowledges: host writes it over an answered request, the SPM echoes it
// into the outbox, the host then frees the slot.
//
// Decoding never trusts storage: every malformed input is a Status
// (kDataLoss for damaged bytes, kUnimplemented for an unknown opcode), never
// an assertion.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_MAILBOX_FORMAT_H_
#define SANPOOL_MAILBOX_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sanpool::mailbox {

inline constexpr size_t kMailboxSize = 4096;      // MAILBOX_SIZE
inline constexpr size_t kMessageSize = 64;        // MESSAGE_SIZE
inline constexpr int kSlotsPerMailbox = 64;       // SLOTS_PER_MAILBOX
inline constexpr int kMessagesPerMailbox = 63;    // slot 63 is reserved
inline constexpr size_t kChecksumOffset = 4092;   // last 4 bytes
inline constexpr size_t kChecksumSize = 4;
inline constexpr char kMessageVersion = '1';      // MESSAGE_VERSION
inline constexpr std::string_view kExtendCode = "xtnd";
inline constexpr char kCleanByte = 0x01;          // CLEAN_MESSAGE = 64 x 0x01
inline constexpr char kPaddingByte = '0';
// Event block: "\0evt" + 16 random bytes, rest zero, at host 0's area.
inline constexpr std::string_view kEventCode{"\0evt", 4};
inline constexpr size_t kEventTokenSize = 16;
inline constexpr int kEventBlockHostId = 0;
// oVirt's default maximum host id (hosts 1..250).
inline constexpr int kDefaultMaxHostId = 250;
// The largest size a message can carry (oVirt's VOLUME_MAX_SIZE), MiB.
inline constexpr uint64_t kMaxSizeMiB = 0xFFFFFFFFull;
inline constexpr uint64_t kMiB = 1024 * 1024;

// Field offsets within a message.
inline constexpr size_t kOpcodeOffset = 1;
inline constexpr size_t kDomainOffset = 5;
inline constexpr size_t kVolumeOffset = 21;
inline constexpr size_t kSizeOffset = 37;
inline constexpr size_t kSizeDigits = 16;
inline constexpr size_t kPaddingOffset = 53;
// Bytes a reply must repeat from its request (version, opcode, UUIDs).
inline constexpr size_t kHeaderSize = 37;

// Byte offset of host `host_id`'s mailbox in the inbox or outbox.
constexpr uint64_t MailboxOffset(int host_id) {
  return static_cast<uint64_t>(host_id) * kMailboxSize;
}

// What a 64-byte slot holds, judged by its bytes alone.
enum class SlotKind {
  kEmpty,    // first byte 0x00
  kClean,    // 64 x 0x01
  kMessage,  // anything else: a message to decode (possibly garbage)
};
// REQUIRES: slot.size() == kMessageSize.
SlotKind ClassifySlot(std::string_view slot);

struct ExtendMessage {
  std::string domain_uuid;  // canonical lowercase text
  std::string volume_uuid;  // canonical lowercase text
  uint64_t size_mib = 0;    // absolute target (request) / reached (reply)

  bool operator==(const ExtendMessage&) const = default;
};

// UUID text -> its 16 bytes reversed (Python `UUID(s).int.to_bytes(16,
// "little")`). kInvalidArgument unless `uuid` is canonical (base/uuid.h).
Result<std::string> PackUuid(std::string_view uuid);
// The inverse; lowercase canonical text. kDataLoss unless packed.size() ==
// 16, or if all 16 bytes are zero (the nil UUID names no domain or volume;
// zeros where a UUID belongs mean a damaged or foreign record).
Result<std::string> UnpackUuid(std::string_view packed);

// `size_mib` as 16 lowercase hex digits.
std::string EncodeSize(uint64_t size_mib);

// The 64 bytes of an extend message. kInvalidArgument for a non-canonical
// UUID or size_mib > kMaxSizeMiB.
Result<std::string> EncodeExtend(const ExtendMessage& message);

// Decodes a request or reply slot. Errors, all without side effects:
//   kDataLoss       size != 64, version byte not '1', size field not hex,
//                   bad UUID bytes (see UnpackUuid)
//   kUnimplemented  version '1' but an opcode other than "xtnd"
// The padding bytes are not checked (oVirt ignores them).
Result<ExtendMessage> DecodeExtend(std::string_view slot);

// The reply to `request` (a 64-byte message): its first 37 bytes, then
// `size_mib` and padding. Sizes above kMaxSizeMiB are written as 0
// (failure). REQUIRES: request.size() == kMessageSize.
std::string EncodeReply(std::string_view request, uint64_t size_mib);

// Whether `reply` answers `request`: bytes [0,37) equal and the reply is
// neither empty nor CLEAN. Both 64 bytes.
bool IsReplyTo(std::string_view request, std::string_view reply);

// 64 x 0x01.
std::string CleanMessage();

// Little-endian sum of bytes [0, 4092) of a 4 KiB mailbox.
// REQUIRES: mailbox.size() == kMailboxSize.
uint32_t ComputeChecksum(std::string_view mailbox);
// Writes ComputeChecksum into bytes [4092, 4096) of `mailbox` (little
// endian). REQUIRES: mailbox points at kMailboxSize bytes.
void SealMailbox(char* mailbox);
// OK if bytes [4092,4096) hold the checksum of the rest. kDataLoss
// otherwise, and for a size other than 4096. An all-zero mailbox is valid
// (an empty mailbox's checksum is 0).
Status VerifyMailbox(std::string_view mailbox);

// The 4 KiB event block with `token` (16 bytes). REQUIRES: token.size() ==
// kEventTokenSize.
std::string EncodeEventBlock(std::string_view token);
// The token of an event block; "" if the block is all zero (never
// signalled). kDataLoss if the block is shorter than 20 bytes or does not
// start with "\0evt".
Result<std::string> DecodeEventBlock(std::string_view block);

}  // namespace sanpool::mailbox

#endif  // SANPOOL_MAILBOX_FORMAT_H_
