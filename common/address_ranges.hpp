// Sets of IP address ranges in CIDR notation ("10.0.0.0/8,::1/128"), for deciding whose headers
// are believed (--trusted-proxy-from). IPv4 addresses also match in their IPv6-mapped form.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

class AddressRanges {
 public:
  // Comma-separated CIDRs (a bare address is a /32 or /128); throws std::invalid_argument naming
  // the first bad entry.
  static AddressRanges parse(std::string_view list);

  bool contains(std::string_view address) const;  // false for anything not an IP address
  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    std::array<uint8_t, 16> prefix;
    int bits;
  };
  std::vector<Range> ranges_;
};

}  // namespace cairn
