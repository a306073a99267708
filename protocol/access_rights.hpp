// AccessRights: the bit set an enrollment profile grants the server (Apple's MDM payload). The
// rules come from the protocol reference and docs/design.md: not 0, only the 13 defined bits,
// "remove profiles" (2) needs "inspect profiles" (1), "install/remove provisioning profiles" (128)
// needs "inspect provisioning profiles" (64).
#pragma once

#include <cstdint>
#include <string>

namespace cairn::protocol {

inline constexpr int64_t kAllAccessRights = 8191;  // 1 | 2 | 4 | … | 4096

// Why `rights` is not a valid AccessRights value, or empty if it is.
inline std::string access_rights_problem(int64_t rights) {
  if (rights == 0) return "AccessRights must not be 0";
  if (rights < 0 || (rights & ~kAllAccessRights) != 0)
    return "AccessRights " + std::to_string(rights) + " has bits outside 1..4096 (at most 8191)";
  if ((rights & 2) && !(rights & 1))
    return "AccessRights 2 (install and remove profiles) needs 1 (inspect profiles)";
  if ((rights & 128) && !(rights & 64))
    return "AccessRights 128 (install and remove provisioning profiles) needs 64 (inspect "
           "provisioning profiles)";
  return {};
}

}  // namespace cairn::protocol
