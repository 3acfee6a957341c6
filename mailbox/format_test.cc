#include "mailbox/format.h"

#include <catch2/catch.hpp>
#include <string>

namespace sanpool::mailbox {
namespace {

constexpr std::string_view kSd = "11111111-2222-3333-4444-555566667777";
constexpr std::string_view kVol = "aaaaaaaa-bbbb-cccc-dddd-eeeeffff0000";

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)),
                                              nullptr, 16)));
    i += 2;
  }
  return out;
}

// Reference §4.2's example: sd 1111..., vol aaaa..., 5120 MiB.
std::string GoldenMessage() {
  return FromHex(
      "31 78746e64 77776666555544443333222211111111 "
      "0000ffffeeeeddddccccbbbbaaaaaaaa 30303030303030303030303031343030 "
      "3030303030303030303030");
}

std::string Example() {
  Result<std::string> msg = EncodeExtend({std::string(kSd),
                                          std::string(kVol), 5120});
  REQUIRE(msg.ok());
  return *msg;
}

TEST_CASE("extend message matches the reference's golden bytes") {
  REQUIRE(GoldenMessage().size() == kMessageSize);
  CHECK(Example() == GoldenMessage());
}

TEST_CASE("extend message decodes the golden bytes") {
  Result<ExtendMessage> msg = DecodeExtend(GoldenMessage());
  REQUIRE(msg.ok());
  CHECK(msg->domain_uuid == kSd);
  CHECK(msg->volume_uuid == kVol);
  CHECK(msg->size_mib == 5120);
}

TEST_CASE("uuids are packed as their RFC bytes reversed") {
  Result<std::string> packed =
      PackUuid("00112233-4455-6677-8899-aabbccddeeff");
  REQUIRE(packed.ok());
  CHECK(*packed == FromHex("ffeeddccbbaa99887766554433221100"));
  Result<std::string> text = UnpackUuid(*packed);
  REQUIRE(text.ok());
  CHECK(*text == "00112233-4455-6677-8899-aabbccddeeff");
  // Uppercase input is accepted; output is lowercase.
  Result<std::string> upper =
      PackUuid("00112233-4455-6677-8899-AABBCCDDEEFF");
  REQUIRE(upper.ok());
  CHECK(*upper == *packed);
}

TEST_CASE("encode rejects bad input") {
  CHECK(EncodeExtend({"not-a-uuid", std::string(kVol), 1}).status().code() ==
        Code::kInvalidArgument);
  CHECK(EncodeExtend({std::string(kSd), std::string(kVol), kMaxSizeMiB + 1})
            .status()
            .code() == Code::kInvalidArgument);
  Result<std::string> max =
      EncodeExtend({std::string(kSd), std::string(kVol), kMaxSizeMiB});
  REQUIRE(max.ok());
  CHECK(max->substr(kSizeOffset, kSizeDigits) == "00000000ffffffff");
}

TEST_CASE("reply repeats the header with the reached size") {
  const std::string request = Example();
  const std::string reply = EncodeReply(request, 5120);
  CHECK(reply == request);  // success = the requested size
  const std::string failure = EncodeReply(request, 0);
  CHECK(failure.substr(0, kHeaderSize) == request.substr(0, kHeaderSize));
  CHECK(failure.substr(kSizeOffset, kSizeDigits) == std::string(16, '0'));
  CHECK(failure.substr(kPaddingOffset) == std::string(11, '0'));
  CHECK(IsReplyTo(request, failure));
  CHECK_FALSE(IsReplyTo(request, CleanMessage()));
  CHECK_FALSE(IsReplyTo(request, std::string(kMessageSize, '\0')));
  std::string other = request;
  other[kVolumeOffset] ^= 1;
  CHECK_FALSE(IsReplyTo(request, other));
}

TEST_CASE("slots are classified by their bytes") {
  CHECK(ClassifySlot(std::string(kMessageSize, '\0')) == SlotKind::kEmpty);
  CHECK(ClassifySlot(CleanMessage()) == SlotKind::kClean);
  CHECK(CleanMessage() == std::string(64, '\x01'));
  CHECK(ClassifySlot(Example()) == SlotKind::kMessage);
  std::string almost_clean = CleanMessage();
  almost_clean[63] = 2;
  CHECK(ClassifySlot(almost_clean) == SlotKind::kMessage);
}

TEST_CASE("corrupt messages are specific errors") {
  SECTION("truncated") {
    CHECK(DecodeExtend(Example().substr(0, 63)).status().code() ==
          Code::kDataLoss);
    CHECK(DecodeExtend("").status().code() == Code::kDataLoss);
  }
  SECTION("bad version") {
    std::string m = Example();
    m[0] = '2';
    Result<ExtendMessage> r = DecodeExtend(m);
    CHECK(r.status().code() == Code::kDataLoss);
    CHECK(r.status().message().find("version") != std::string_view::npos);
  }
  SECTION("garbage opcode") {
    std::string m = Example();
    m.replace(kOpcodeOffset, 4, "xtnX");
    CHECK(DecodeExtend(m).status().code() == Code::kUnimplemented);
  }
  SECTION("bad uuid bytes") {
    std::string m = Example();
    m.replace(kVolumeOffset, 16, std::string(16, '\0'));
    Result<ExtendMessage> r = DecodeExtend(m);
    CHECK(r.status().code() == Code::kDataLoss);
    CHECK(r.status().message().find("uuid") != std::string_view::npos);
  }
  SECTION("size not hex") {
    std::string m = Example();
    m[kSizeOffset + 3] = 'g';
    CHECK(DecodeExtend(m).status().code() == Code::kDataLoss);
  }
  SECTION("every single-byte corruption decodes or errors, never crashes") {
    const std::string good = Example();
    for (size_t i = 0; i < kMessageSize; ++i) {
      for (int v : {0x00, 0x01, 0x30, 0x7f, 0xff}) {
        std::string m = good;
        m[i] = static_cast<char>(v);
        Result<ExtendMessage> r = DecodeExtend(m);
        if (r.ok()) CHECK(r->size_mib <= 0xffffffffffffffffull);
      }
    }
  }
  SECTION("padding is not checked, as in oVirt") {
    std::string m = Example();
    m[kPaddingOffset] = 'x';
    CHECK(DecodeExtend(m).ok());
  }
}

std::string MailboxWith(std::string_view message, int slot) {
  std::string box(kMailboxSize, '\0');
  box.replace(slot * kMessageSize, kMessageSize, message);
  SealMailbox(box.data());
  return box;
}

TEST_CASE("mailbox checksum is the little-endian byte sum") {
  const std::string box = MailboxWith(GoldenMessage(), 0);
  uint32_t sum = 0;
  for (unsigned char c : GoldenMessage()) sum += c;
  CHECK(ComputeChecksum(box) == sum);
  CHECK(static_cast<unsigned char>(box[4092]) == (sum & 0xff));
  CHECK(static_cast<unsigned char>(box[4093]) == ((sum >> 8) & 0xff));
  CHECK(box[4094] == static_cast<char>((sum >> 16) & 0xff));
  CHECK(box[4095] == 0);
  CHECK(VerifyMailbox(box).ok());

  // The maximum: every payload byte 0xff.
  std::string full(kMailboxSize, '\xff');
  SealMailbox(full.data());
  CHECK(ComputeChecksum(full) == 4092u * 255u);
  CHECK(VerifyMailbox(full).ok());
}

TEST_CASE("empty mailbox is valid") {
  CHECK(VerifyMailbox(std::string(kMailboxSize, '\0')).ok());
}

TEST_CASE("corrupt mailboxes fail verification") {
  std::string box = MailboxWith(GoldenMessage(), 5);
  SECTION("flipped payload byte") {
    box[5 * kMessageSize + 10] ^= 0x40;
    CHECK(VerifyMailbox(box).code() == Code::kDataLoss);
  }
  SECTION("flipped checksum byte") {
    box[4093] ^= 1;
    CHECK(VerifyMailbox(box).code() == Code::kDataLoss);
  }
  SECTION("truncated") {
    CHECK(VerifyMailbox(std::string_view(box).substr(0, 4095)).code() ==
          Code::kDataLoss);
  }
  SECTION("garbage") {
    std::string garbage(kMailboxSize, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) {
      garbage[i] = static_cast<char>(i * 37 + 11);
    }
    CHECK(VerifyMailbox(garbage).code() == Code::kDataLoss);
  }
}

TEST_CASE("event block holds the event code and a token") {
  const std::string token = FromHex("00112233445566778899aabbccddeeff");
  const std::string block = EncodeEventBlock(token);
  REQUIRE(block.size() == kMailboxSize);
  CHECK(block.substr(0, 4) == std::string("\0evt", 4));
  CHECK(block.substr(4, 16) == token);
  CHECK(block.substr(20) == std::string(kMailboxSize - 20, '\0'));
  Result<std::string> decoded = DecodeEventBlock(block);
  REQUIRE(decoded.ok());
  CHECK(*decoded == token);
  // Never signalled.
  Result<std::string> zero = DecodeEventBlock(std::string(kMailboxSize, '\0'));
  REQUIRE(zero.ok());
  CHECK(zero->empty());
  // Damaged.
  std::string bad = block;
  bad[1] = 'E';
  CHECK(DecodeEventBlock(bad).status().code() == Code::kDataLoss);
  CHECK(DecodeEventBlock(block.substr(0, 10)).status().code() ==
        Code::kDataLoss);
  // The event block's first byte is 0: scanning it as a slot sees "empty".
  CHECK(ClassifySlot(std::string_view(block).substr(0, 64)) ==
        SlotKind::kEmpty);
}

TEST_CASE("layout constants") {
  CHECK(MailboxOffset(0) == 0);
  CHECK(MailboxOffset(250) == 250u * 4096u);
  CHECK(kMessagesPerMailbox * kMessageSize + kMessageSize == kMailboxSize);
  CHECK(kChecksumOffset + kChecksumSize == kMailboxSize);
  CHECK(kPaddingOffset + 11 == kMessageSize);
}

}  // namespace
}  // namespace sanpool::mailbox
