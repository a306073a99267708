// Hashes and randomness.
#pragma once

#include <string>
#include <string_view>

namespace cairn::crypto {

std::string sha256(std::string_view bytes);      // 32 raw bytes
std::string sha256_hex(std::string_view bytes);  // 64 lowercase hex digits
// 20 raw bytes. Only where a peer accepts nothing stronger: Apple's SCEP client takes a
// CAFingerprint of MD5 or SHA-1 length and no other (it pins a CA; not a collision use).
std::string sha1(std::string_view bytes);
// 32 raw bytes: HMAC-SHA256 of `data` under `key` (webhook signatures).
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string random_bytes(size_t n);  // from OpenSSL's CSPRNG
std::string uuid_v4();               // upper-case, as Apple writes CommandUUIDs

}  // namespace cairn::crypto
