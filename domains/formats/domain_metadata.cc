#include "domains/formats/domain_metadata.h"

#include <openssl/evp.h>

#include <memory>

#include "domains/formats/utf8.h"
#include "domains/storage_errors.h"

namespace sanpool::formats {
namespace {

Status CheckToken(std::string_view s, std::string_view what) {
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\0') {
      return InvalidArgumentError(std::string(what) +
                                  " contains a newline or NUL character");
    }
  }
  return Status::Ok();
}

// Python: line.encode("ascii", "xmlcharrefreplace").
Result<std::string> XmlCharRefAscii(std::string_view line) {
  ASSIGN_OR_RETURN(std::vector<char32_t> cps, DecodeUtf8(line, "metadata line"));
  std::string out;
  out.reserve(line.size());
  for (char32_t cp : cps) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out += "&#" + std::to_string(static_cast<uint32_t>(cp)) + ";";
    }
  }
  return out;
}

}  // namespace

Result<std::string> MetadataChecksum(const MetadataDict& dict) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                               EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) {
    return InternalError("cannot initialise SHA-1");
  }
  for (const auto& [key, value] : dict) {
    ASSIGN_OR_RETURN(std::string ascii, XmlCharRefAscii(key + "=" + value));
    EVP_DigestUpdate(ctx.get(), ascii.data(), ascii.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

Result<std::vector<std::string>> EncodeMetadataLines(const MetadataDict& dict) {
  std::vector<std::string> lines;
  lines.reserve(dict.size() + 1);
  for (const auto& [key, value] : dict) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return InvalidArgumentError("invalid metadata key '" + key + "'");
    }
    if (key == kChecksumKey) {
      return InvalidArgumentError("metadata key _SHA_CKSUM is reserved");
    }
    RETURN_IF_ERROR(CheckToken(key, "metadata key"));
    RETURN_IF_ERROR(CheckToken(value, "metadata value of " + key));
    lines.push_back(key + "=" + value);
  }
  ASSIGN_OR_RETURN(std::string sum, MetadataChecksum(dict));
  lines.push_back(std::string(kChecksumKey) + "=" + sum);
  return lines;
}

Result<std::string> EncodeMetadataFile(const MetadataDict& dict) {
  ASSIGN_OR_RETURN(std::vector<std::string> lines, EncodeMetadataLines(dict));
  std::string out;
  for (const auto& line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

Result<MetadataDict> DecodeMetadataLines(const std::vector<std::string>& lines) {
  MetadataDict dict;
  std::string seal;
  bool have_seal = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return MetadataSealBroken("line " + std::to_string(i + 1) +
                                " has no '='");
    }
    std::string_view key(line.data(), eq);
    while (!key.empty() && (key.front() == ' ' || key.front() == '\t')) key.remove_prefix(1);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
    std::string value = line.substr(eq + 1);
    if (key == kChecksumKey) {
      if (have_seal) return MetadataSealBroken("two _SHA_CKSUM lines");
      have_seal = true;
      seal = value;
      continue;
    }
    if (key.empty()) {
      return MetadataSealBroken("line " + std::to_string(i + 1) +
                                " has an empty key");
    }
    if (!dict.emplace(std::string(key), std::move(value)).second) {
      return MetadataSealBroken("duplicate key " + std::string(key));
    }
  }
  if (dict.empty() && !have_seal) return dict;
  if (!have_seal) {
    return MetadataSealBroken("no _SHA_CKSUM line (truncated?)");
  }
  auto sum = MetadataChecksum(dict);
  if (!sum.ok()) return MetadataSealBroken(sum.status().message());
  if (*sum != seal) {
    return MetadataSealBroken("checksum mismatch: stored " + seal +
                              ", computed " + *sum)
        .WithDetail("stored", seal)
        .WithDetail("computed", *sum);
  }
  return dict;
}

Result<MetadataDict> DecodeMetadataFile(std::string_view bytes) {
  if (bytes.size() > kMaxDomainMetadataBytes) {
    return MetadataSealBroken("metadata is " + std::to_string(bytes.size()) +
                              " bytes, more than the " +
                              std::to_string(kMaxDomainMetadataBytes) +
                              " a domain metadata file can be");
  }
  while (!bytes.empty() && bytes.back() == '\0') bytes.remove_suffix(1);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t nl = bytes.find('\n', start);
    size_t end = nl == std::string_view::npos ? bytes.size() : nl;
    std::string_view line = bytes.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\0') != std::string_view::npos) {
      return MetadataSealBroken("NUL byte inside the metadata");
    }
    lines.emplace_back(line);
    start = end + 1;
  }
  return DecodeMetadataLines(lines);
}

}  // namespace sanpool::formats
