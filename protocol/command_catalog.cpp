#include "protocol/command_catalog.hpp"
#include "protocol/catalog_json.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <utility>

namespace cairn::protocol {

extern const std::string_view kCommandCatalogJson;  // generated at build time

namespace {

constexpr std::array<std::pair<std::string_view, int64_t>, 15> kAccessRights{{
    {"AllowInspection", 1},
    {"AllowInstallationRemoval", 2},
    {"AllowPasscodeRemovalAndLock", 4},
    {"DeviceLockAndRemovePasscode", 4},
    {"AllowDeviceErase", 8},
    {"AllowQueryDeviceInformation", 16},
    {"AllowQueryNetworkInformation", 32},
    {"AllowProvisioningInspection", 64},
    {"AllowProvisioningInstallationRemoval", 128},
    {"AllowQueryApplications", 256},
    {"QueryInstalledApps", 256},
    {"AllowQueryRestrictions", 512},
    {"AllowQuerySecurity", 1024},
    {"AllowSettings", 2048},
    {"AllowAppInstallation", 4096},
}};

// Each value type: its name in Apple's schemas and messages, and the plist node that holds it.
struct TypeInfo {
  ValueType type;
  std::string_view name;
  plist_type node;
};
constexpr TypeInfo kTypes[] = {
    {ValueType::kString, "string", PLIST_STRING},
    {ValueType::kBoolean, "boolean", PLIST_BOOLEAN},
    {ValueType::kInteger, "integer", PLIST_UINT},
    {ValueType::kReal, "real", PLIST_REAL},
    {ValueType::kDate, "date", PLIST_DATE},
    {ValueType::kData, "data", PLIST_DATA},
    {ValueType::kArray, "array", PLIST_ARRAY},
    {ValueType::kDictionary, "dictionary", PLIST_DICT},
    {ValueType::kAny, "any", PLIST_NONE},
};

ValueType parse_type(std::string_view name) {
  for (const auto& t : kTypes)
    if (t.name == name) return t.type;
  return ValueType::kAny;
}

std::string_view plist_type_name(plist_t v) {
  for (const auto& t : kTypes)
    if (t.type != ValueType::kAny && t.node == plist_get_node_type(v)) return t.name;
  return "another type";
}

bool has_type(plist_t v, ValueType t) {
  return t == ValueType::kAny || plist_type_name(v) == value_type_name(t);
}

// A string or integer as the schema's range lists it.
std::string range_text(plist_t v) {
  if (plist_get_node_type(v) == PLIST_STRING) {
    char* s = nullptr;
    plist_get_string_val(v, &s);
    const std::unique_ptr<char, void (*)(void*)> owned(s, std::free);
    return s ? s : "";
  }
  uint64_t n = 0;
  plist_get_uint_val(v, &n);
  return std::to_string(static_cast<int64_t>(n));
}

std::string joined(const std::vector<std::string>& items, size_t most = 12) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < most; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > most) out += ", …";
  return out;
}

std::vector<std::string> names_of(const std::vector<KeySpec>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.push_back(k.name);
  return out;
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

void validate_dictionary(plist_t dict, const std::vector<KeySpec>& keys, const std::string& path,
                         std::string_view skip = {}) {
  if (keys.size() == 1 && keys.front().name == "ANY") {
    for_each_entry(dict, [&](const std::string& key, plist_t value) {
      validate_value(value, keys.front(), child(path, key));
    });
    return;
  }
  for_each_entry(dict, [&](const std::string& key, plist_t value) {
    if (key == skip) return;
    const auto spec =
        std::find_if(keys.begin(), keys.end(), [&](const KeySpec& k) { return k.name == key; });
    if (spec == keys.end())
      throw InvalidCommand(child(path, key),
                           keys.empty() ? "unknown key (this takes none)"
                                        : "unknown key (known: " + joined(names_of(keys)) + ")");
    validate_value(value, *spec, child(path, key));
  });
  for (const auto& k : keys)
    if (k.required && !plist_dict_get_item(dict, k.name.c_str()))
      throw InvalidCommand(child(path, k.name), "required key is missing");
}

// The kind of a plist array item, by item_kind; throws when several are possible and none fits.
const KeySpec* item_spec(const KeySpec& array, plist_t item, const std::string& path) {
  const KeySpec* kind = item_kind(array, [&](const std::string& key) -> std::optional<std::string> {
    const plist_t v =
        plist_get_node_type(item) == PLIST_DICT ? plist_dict_get_item(item, key.c_str()) : nullptr;
    if (!v || plist_get_node_type(v) != PLIST_STRING) return std::nullopt;
    return range_text(v);
  });
  if (kind || array.subkeys.size() < 2) return kind;
  throw InvalidCommand(
      path, "is none of the kinds of item it may be (" + joined(names_of(array.subkeys), 30) + ")");
}

}  // namespace

std::string catalog_text(const rapidjson::Value& v, const char* name) {
  const auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

std::vector<KeySpec> catalog_keys(const rapidjson::Value& list) {
  std::vector<KeySpec> out;
  for (const auto& k : list.GetArray()) {
    KeySpec spec;
    spec.name = catalog_text(k, "key");
    spec.type = parse_type(catalog_text(k, "type"));
    spec.required = k["required"].GetBool();
    if (const auto r = k.FindMember("range"); r != k.MemberEnd())
      for (const auto& v : r->value.GetArray()) spec.range.emplace_back(v.GetString());
    if (const auto t = k.FindMember("asset_types"); t != k.MemberEnd())
      for (const auto& v : t->value.GetArray()) spec.asset_types.emplace_back(v.GetString());
    if (const auto s = k.FindMember("subkeys"); s != k.MemberEnd())
      spec.subkeys = catalog_keys(s->value);
    out.push_back(std::move(spec));
  }
  return out;
}

const KeySpec* item_kind(const KeySpec& array, const StringMember& string_member) {
  if (array.subkeys.size() == 1) return &array.subkeys.front();
  for (const auto& alternative : array.subkeys) {
    if (alternative.type != ValueType::kDictionary) continue;
    bool discriminated = false, matches = true;
    for (const auto& k : alternative.subkeys) {
      if (!k.required || k.range.size() != 1) continue;
      discriminated = true;
      matches = matches && string_member(k.name) == k.range[0];
    }
    if (discriminated && matches) return &alternative;
  }
  return nullptr;
}

std::string_view value_type_name(ValueType t) {
  for (const auto& info : kTypes)
    if (info.type == t) return info.name;
  return "any";
}

void validate_value(plist_t value, const KeySpec& spec, const std::string& path) {
  if (!has_type(value, spec.type))
    throw InvalidCommand(path, "must be " + std::string(value_type_name(spec.type)) + ", not " +
                                   std::string(plist_type_name(value)));
  if (!spec.range.empty() &&
      (spec.type == ValueType::kString || spec.type == ValueType::kInteger) &&
      std::find(spec.range.begin(), spec.range.end(), range_text(value)) == spec.range.end())
    throw InvalidCommand(path,
                         "\"" + range_text(value) + "\" is not one of: " + joined(spec.range));
  if (spec.type == ValueType::kDictionary && !spec.subkeys.empty())
    validate_dictionary(value, spec.subkeys, path);
  if (spec.type == ValueType::kArray) {
    const uint32_t n = plist_array_get_size(value);
    for (uint32_t i = 0; i < n; ++i) {
      const plist_t item = plist_array_get_item(value, i);
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (const KeySpec* s = item_spec(spec, item, item_path)) validate_value(item, *s, item_path);
    }
  }
}

int64_t access_right_bit(std::string_view name) {
  for (const auto& [n, bit] : kAccessRights)
    if (n == name) return bit;
  return 0;
}

std::string access_right_label(int64_t bit) {
  for (const auto& [n, b] : kAccessRights)
    if (b == bit) return std::to_string(bit) + " (" + std::string(n) + ")";
  return std::to_string(bit);
}

void refuse_escrowed_keys(const Plist& command_message) {
  // Under any RequestType (whatever its spelling): no command carries one but ClearPasscode.
  const auto command = command_message.dict("Command");
  if (command && command->has(kUnlockTokenKey))
    throw InvalidCommand(std::string("Command.") + kUnlockTokenKey,
                         "leave it out: Cairn inserts the device's own escrowed UnlockToken when "
                         "the command is delivered, so that it is never logged in clear");
}

CommandCatalog CommandCatalog::from_json(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::runtime_error("unreadable command catalog");
  CommandCatalog c;
  c.source_ = catalog_text(doc, "source");
  for (const auto& cmd : doc["commands"].GetArray()) {
    CommandSpec spec;
    spec.request_type = catalog_text(cmd, "request_type");
    spec.title = catalog_text(cmd, "title");
    spec.file = catalog_text(cmd, "file");
    for (const auto& os : cmd["os"].GetObject()) {
      OsSupport s{catalog_text(os.value, "introduced"), catalog_text(os.value, "access_right")};
      spec.access_right = std::max(spec.access_right, access_right_bit(s.access_right));
      spec.os.emplace(os.name.GetString(), std::move(s));
    }
    spec.user_channel = cmd["user_channel"].GetBool();
    spec.keys = catalog_keys(cmd["keys"]);
    // Apple allows it in any command (the device then answers only over a tethered network);
    // the per-command schemas do not list it.
    if (std::none_of(spec.keys.begin(), spec.keys.end(),
                     [](const KeySpec& k) { return k.name == "RequestRequiresNetworkTether"; }))
      spec.keys.push_back({"RequestRequiresNetworkTether", ValueType::kBoolean, false, {}, {}});
    spec.response_keys = catalog_keys(cmd["response_keys"]);
    if (spec.request_type == kEscrowedUnlockTokenCommand)
      for (auto& k : spec.keys)
        if (k.name == kUnlockTokenKey) k.required = false;  // inserted at delivery
    c.by_type_.emplace(spec.request_type, c.commands_.size());
    c.commands_.push_back(std::move(spec));
  }
  return c;
}

const CommandCatalog& CommandCatalog::builtin() {
  static const CommandCatalog catalog = from_json(kCommandCatalogJson);
  return catalog;
}

const CommandSpec* CommandCatalog::find(std::string_view request_type) const {
  const auto it = by_type_.find(request_type);
  return it == by_type_.end() ? nullptr : &commands_[it->second];
}

const CommandSpec& CommandCatalog::validate(const Plist& command) const {
  const plist_t root = command.root();
  if (plist_get_node_type(root) != PLIST_DICT)
    throw InvalidCommand("(root)", "must be a dictionary");
  const plist_t uuid = plist_dict_get_item(root, "CommandUUID");
  if (!uuid || plist_get_node_type(uuid) != PLIST_STRING)
    throw InvalidCommand("CommandUUID", "required string is missing");
  const plist_t body = plist_dict_get_item(root, "Command");
  if (!body || plist_get_node_type(body) != PLIST_DICT)
    throw InvalidCommand("Command", "required dictionary is missing");
  const plist_t type = plist_dict_get_item(body, "RequestType");
  if (!type || plist_get_node_type(type) != PLIST_STRING)
    throw InvalidCommand("Command.RequestType", "required string is missing");
  const std::string request_type = range_text(type);
  const CommandSpec* spec = find(request_type);
  if (!spec)
    throw InvalidCommand("Command.RequestType", "unknown request type \"" + request_type + "\" (" +
                                                    std::to_string(commands_.size()) +
                                                    " are known: GET /api/v1/catalog)");
  validate_dictionary(root,
                      {{"CommandUUID", ValueType::kString, true, {}, {}},
                       {"Command", ValueType::kDictionary, true, {}, {}}},
                      "", {});
  validate_dictionary(body, spec->keys, "Command", "RequestType");
  return *spec;
}

}  // namespace cairn::protocol
