#include "ade/assignment_rules.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "common/errors.hpp"
#include "projector/ade.hpp"

namespace cairn::ade {
namespace {

const std::string& field_of(const projector::AdeDeviceRecord& d, std::string_view name) {
  if (name == "model") return d.model;
  if (name == "description") return d.description;
  if (name == "color") return d.color;
  if (name == "device_family") return d.device_family;
  if (name == "os") return d.os;
  if (name == "asset_tag") return d.asset_tag;
  return d.device_assigned_by;
}

bool matches(std::string_view value, std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*')
    return value.starts_with(pattern.substr(0, pattern.size() - 1));
  return value == pattern;
}

}  // namespace

std::vector<Rule> parse_rules(std::string_view json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsArray()) throw BadRequest("rules must be a JSON array");
  if (d.Size() > 100) throw BadRequest("at most 100 rules");
  std::vector<Rule> rules;
  for (const auto& r : d.GetArray()) {
    const std::string at = "rule " + std::to_string(rules.size() + 1) + ": ";
    if (!r.IsObject()) throw BadRequest(at + "must be an object");
    const auto profile = r.FindMember("profile");
    if (profile == r.MemberEnd() || !profile->value.IsString() ||
        !projector::is_ade_name(profile->value.GetString()))
      throw BadRequest(at + "profile must be a profile name ([A-Za-z0-9._-], at most 64)");
    const auto match = r.FindMember("match");
    if (match == r.MemberEnd() || !match->value.IsObject() || match->value.MemberCount() == 0 ||
        match->value.MemberCount() > 8)
      throw BadRequest(at + "match must be an object of 1 to 8 fields");
    Rule rule{profile->value.GetString(), {}};
    for (const auto& [name, pattern] : match->value.GetObject()) {
      const std::string_view field(name.GetString(), name.GetStringLength());
      if (std::find(std::begin(kRuleFields), std::end(kRuleFields), field) == std::end(kRuleFields))
        throw BadRequest(at + "no device field " + std::string(field.substr(0, 64)) +
                         " (model, description, color, device_family, os, asset_tag, "
                         "device_assigned_by)");
      if (!pattern.IsString() || pattern.GetStringLength() > 256)
        throw BadRequest(at + std::string(field) + " must be a string of at most 256 bytes");
      rule.match.emplace_back(std::string(field), pattern.GetString());
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::string choose_profile(const std::vector<Rule>& rules, const std::string& default_profile,
                           const projector::AdeDeviceRecord& device) {
  for (const auto& rule : rules)
    if (std::all_of(rule.match.begin(), rule.match.end(),
                    [&](const auto& m) { return matches(field_of(device, m.first), m.second); }))
      return rule.profile;
  return default_profile;
}

}  // namespace cairn::ade
