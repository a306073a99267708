// Which ADE profile a device gets: the first rule whose every field pattern matches the device's
// ADE fields, else the token's default profile (none: the device waits for a rule or an
// administrator). A pattern ending in '*' matches by prefix, any other exactly. Rules are JSON,
// as the admin API takes them: [{"profile": "ipads", "match": {"device_family": "iPad"}}, ...].
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projector/records.hpp"

namespace cairn::ade {

// The device fields a rule may match (Apple's names). Apple's device records carry no order
// number: a reseller's order shows in `description` or `device_assigned_by` when at all.
inline constexpr std::string_view kRuleFields[] = {
    "model", "description", "color", "device_family", "os", "asset_tag", "device_assigned_by"};

struct Rule {
  std::string profile;
  std::vector<std::pair<std::string, std::string>> match;  // field, pattern
};

// Throws BadRequest naming what is wrong (at most 100 rules, 8 fields each).
std::vector<Rule> parse_rules(std::string_view json);

// The profile for `device`: the first matching rule's, else `default_profile` (may be empty).
std::string choose_profile(const std::vector<Rule>& rules, const std::string& default_profile,
                           const projector::AdeDeviceRecord& device);

}  // namespace cairn::ade
