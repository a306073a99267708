#include "projector/inventory.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "common/errors.hpp"
#include "plist/plist.hpp"
#include "plist/plist_json.hpp"
#include "projector/keys.hpp"
#include "projector/records.hpp"
#include "protocol/messages.hpp"
#include "store/record_codec.hpp"

namespace cairn::projector {
namespace {

// Which plist key holds each kind of result, and whether its entries become fields of their own
// ("DeviceInformation.OSVersion") or the whole value is one field.
struct ResultShape {
  std::string_view request_type;
  std::string_view key;
  bool per_entry;
};
constexpr ResultShape kShapes[] = {
    {"DeviceInformation", "QueryResponses", true},
    {"SecurityInfo", "SecurityInfo", true},
    {"InstalledApplicationList", "InstalledApplicationList", false},
    {"ProfileList", "ProfileList", false},
    {"ProvisioningProfileList", "ProvisioningProfileList", false},
    {"CertificateList", "CertificateList", false},
    {"Restrictions", "GlobalRestrictions", false},
    {"ManagedApplicationList", "ManagedApplicationList", false},
};

// Scalar fields devices are filtered on: field → filter.
const std::map<std::string, std::string, std::less<>> kScalarFilters{
    {"DeviceInformation.OSVersion", "os_version"},
    {"DeviceInformation.ProductName", "model"},
    {"DeviceInformation.SerialNumber", "serial"},
    {"SecurityInfo.PasscodeCompliant", "passcode_compliant"},
};
// List fields whose items' identifiers are indexed: field → {filter, identifier key}.
const std::map<std::string, std::pair<std::string, std::string>, std::less<>> kListFilters{
    {"InstalledApplicationList", {"app", "Identifier"}},
    {"ProfileList", {"profile", "PayloadIdentifier"}},
};

// The value of a scalar JSON as index text ("17.1", "true").
std::string index_text(const rapidjson::Value& v) {
  if (v.IsString()) return {v.GetString(), v.GetStringLength()};
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  return {};
}

std::vector<std::string> index_values(const std::string& field, std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError()) return {};
  std::vector<std::string> out;
  if (kScalarFilters.contains(field)) {
    if (auto t = index_text(d); !t.empty()) out.push_back(std::move(t));
  } else if (const auto list = kListFilters.find(field);
             list != kListFilters.end() && d.IsArray()) {
    for (const auto& item : d.GetArray()) {
      if (!item.IsObject()) continue;
      const auto id = item.FindMember(list->second.second.c_str());
      if (id != item.MemberEnd())
        if (auto t = index_text(id->value); !t.empty()) out.push_back(std::move(t));
    }
  }
  return out;
}

std::string filter_of(const std::string& field) {
  if (const auto s = kScalarFilters.find(field); s != kScalarFilters.end()) return s->second;
  if (const auto l = kListFilters.find(field); l != kListFilters.end()) return l->second.first;
  return {};
}

// Moves a device's entries in `filter`'s index from the values `before` to those `after`. A user's
// channel ("<udid>:<user>") stays unindexed: the filters find devices.
void reindex(State& state, const std::string& filter, const std::string& udid,
             const std::vector<std::string>& before, const std::vector<std::string>& after) {
  if (filter.empty() || protocol::is_user_channel_id(udid)) return;
  const std::set<std::string> was(before.begin(), before.end()), is(after.begin(), after.end());
  for (const auto& v : was)
    if (!is.contains(v)) state.erase(keys::inventory_index(filter, v, udid));
  for (const auto& v : is)
    if (!was.contains(v)) state.put(keys::inventory_index(filter, v, udid), "");
}

// Sets one field, keeping its filter index in step with its value.
void set_field(State& state, const std::string& udid, const std::string& field,
               InventoryRecord record) {
  const auto key = keys::inventory(udid, field);
  if (const std::string filter = filter_of(field); !filter.empty()) {
    const auto old = state.get(key);
    reindex(state, filter, udid,
            old ? index_values(field, store::decode_record<InventoryRecord>(*old).json)
                : std::vector<std::string>{},
            index_values(field, record.json));
  }
  state.put(key, store::encode_record(record));
}

// The index text of a status item's value: a scalar short enough to be a key.
std::vector<std::string> status_index_values(std::string_view json) {
  if (json.empty()) return {};
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError()) return {};
  auto text = index_text(d);
  if (text.empty() || text.size() > kLongestIndexedStatusValue) return {};
  return {std::move(text)};
}

// Whether the command asked for part of a list only.
bool narrowed(std::string_view command_plist) {
  try {
    const Plist command = Plist::parse(command_plist);
    const auto body = command.dict("Command");
    if (!body) return false;
    if (const auto ids = body->array("Identifiers"); ids && ids->size() > 0) return true;
    return body->boolean("ManagedOnly").value_or(false) ||
           body->boolean("ManagedAppsOnly").value_or(false);
  } catch (const std::exception&) {
    return false;  // unreadable (or mistyped) options: the device answered in full
  }
}

}  // namespace

std::string status_filter(std::string_view item) {
  const bool plain =
      !item.empty() && item.size() <= kLongestIndexedStatusPath &&
      std::all_of(item.begin(), item.end(), [](char c) {  // ASCII, whatever the locale
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_';
      });
  return plain ? std::string(kStatusFilterPrefix) + std::string(item) : std::string();
}

bool is_known_filter(std::string_view filter) {
  return std::find(std::begin(kInventoryFilters), std::end(kInventoryFilters), filter) !=
             std::end(kInventoryFilters) ||
         (filter.starts_with(kStatusFilterPrefix) &&
          !status_filter(filter.substr(kStatusFilterPrefix.size())).empty());
}

void index_status_value(State& state, const std::string& udid, std::string_view item,
                        std::string_view before_json, std::string_view after_json) {
  reindex(state, status_filter(item), udid, status_index_values(before_json),
          status_index_values(after_json));
}

void clear_inventory(State& state, const std::string& udid) {
  std::vector<std::pair<std::string, std::string>> fields;
  const auto prefix = keys::inventory_prefix(udid);
  state.scan(prefix, {}, [&](std::string_view key, std::string_view value) {
    fields.emplace_back(std::string(key.substr(prefix.size())), std::string(value));
    return true;
  });
  for (const auto& [field, value] : fields) {
    if (const std::string filter = filter_of(field); !filter.empty())
      for (const auto& v : index_values(field, store::decode_record<InventoryRecord>(value).json))
        state.erase(keys::inventory_index(filter, v, udid));
    state.erase(keys::inventory(udid, field));
  }
}

bool is_inventory_request(std::string_view request_type) {
  return std::any_of(std::begin(kShapes), std::end(kShapes),
                     [&](const ResultShape& s) { return s.request_type == request_type; });
}

bool apply_inventory(State& state, const std::string& udid, const std::string& request_type,
                     const std::string& command_uuid, const std::string& time,
                     std::string_view body, std::string_view command_plist) {
  const auto shape =
      std::find_if(std::begin(kShapes), std::end(kShapes),
                   [&](const ResultShape& s) { return s.request_type == request_type; });
  if (shape == std::end(kShapes)) return true;
  std::optional<Plist> result;
  try {
    result = Plist::parse(body);
  } catch (const BadRequest&) {
    return false;
  }
  const plist_t value = plist_dict_get_item(result->root(), std::string(shape->key).c_str());
  if (!value) return true;
  if (!shape->per_entry) {
    const std::string field =
        std::string(shape->key) + (narrowed(command_plist) ? ".Narrowed" : "");
    set_field(state, udid, field, {plist_to_json(value), time, command_uuid});
    return true;
  }
  if (plist_get_node_type(value) != PLIST_DICT) return false;
  for_each_entry(value, [&](const std::string& name, plist_t entry) {
    set_field(state, udid, request_type + "." + name, {plist_to_json(entry), time, command_uuid});
  });
  return true;
}

}  // namespace cairn::projector
