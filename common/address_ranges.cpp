#include "common/address_ranges.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace cairn {
namespace {

// An address as 16 bytes, IPv4 in its IPv6-mapped form (::ffff:a.b.c.d); `v4` tells which.
std::optional<std::array<uint8_t, 16>> address_bytes(std::string_view text, bool& v4) {
  const std::string s(text);
  std::array<uint8_t, 16> out{};
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    v4 = true;
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    return out;
  }
  v4 = false;
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

bool matches(const std::array<uint8_t, 16>& address, const std::array<uint8_t, 16>& prefix,
             int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((address[i] & mask) != (prefix[i] & mask)) return false;
  }
  return true;
}

}  // namespace

AddressRanges AddressRanges::parse(std::string_view list) {
  AddressRanges result;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view entry = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) continue;
    const size_t slash = entry.find('/');
    bool v4 = false;
    const auto prefix = address_bytes(entry.substr(0, slash), v4);
    int bits = v4 ? 32 : 128;
    if (prefix && slash != std::string_view::npos) {
      const std::string_view b = entry.substr(slash + 1);
      const auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
      if (ec != std::errc() || end != b.data() + b.size() || bits < 0 || bits > (v4 ? 32 : 128))
        bits = -1;
    }
    if (!prefix || bits < 0)
      throw std::invalid_argument("not an address range: " + std::string(entry));
    result.ranges_.push_back({*prefix, v4 ? bits + 96 : bits});
  }
  return result;
}

bool AddressRanges::contains(std::string_view address) const {
  bool v4 = false;
  const auto bytes = address_bytes(address, v4);
  if (!bytes) return false;
  for (const auto& r : ranges_)
    if (matches(*bytes, r.prefix, r.bits)) return true;
  return false;
}

}  // namespace cairn
