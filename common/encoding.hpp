// Byte encodings used across Cairn: base64, hex, percent-decoding, UTF-8 validation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cairn {

std::string base64_encode(std::string_view bytes);
// Accepts standard base64 with or without padding and ignores whitespace (plist <data> is wrapped);
// throws BadRequest on any other character.
std::string base64_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
// nullopt unless `text` is an even number of hex digits (either case).
std::optional<std::string> hex_decode(std::string_view text);
// Decodes %XX escapes (as nginx's $ssl_client_escaped_cert produces); throws BadRequest if
// malformed.
std::string percent_decode(std::string_view text);
bool is_valid_utf8(std::string_view bytes);
// The longest prefix of `text` of at most `max_bytes` that does not cut a UTF-8 sequence: for
// capping what a sender chose (reasons quoting input, paths) before it is logged or recorded.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);
// Appends one Unicode code point (at most U+10FFFF, not a surrogate) as UTF-8.
void append_utf8(std::string& out, uint32_t code_point);
// `bytes` with each byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD:
// what a device sent, safe to put in JSON.
std::string valid_utf8(std::string_view bytes);

}  // namespace cairn
