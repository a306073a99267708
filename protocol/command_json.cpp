#include "protocol/command_json.hpp"

#include <limits>

#include "common/clock.hpp"
#include "common/encoding.hpp"

namespace cairn::protocol {
namespace {

std::string_view json_type_name(const rapidjson::Value& v) {
  if (v.IsString()) return "a string";
  if (v.IsBool()) return "a boolean";
  if (v.IsInt64() || v.IsUint64()) return "an integer";
  if (v.IsNumber()) return "a number with a fraction";
  if (v.IsArray()) return "an array";
  if (v.IsObject()) return "an object";
  return "null";
}

[[noreturn]] void mistyped(const rapidjson::Value& v, std::string_view expected,
                           const std::string& path) {
  throw InvalidCommand(
      path, "must be " + std::string(expected) + ", not " + std::string(json_type_name(v)));
}

std::string string_of(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

ValueType inferred(const rapidjson::Value& v) {
  if (v.IsString()) return ValueType::kString;
  if (v.IsBool()) return ValueType::kBoolean;
  if (v.IsInt64()) return ValueType::kInteger;
  if (v.IsNumber()) return ValueType::kReal;
  if (v.IsArray()) return ValueType::kArray;
  if (v.IsObject()) return ValueType::kDictionary;
  return ValueType::kAny;
}

const KeySpec* member_spec(const std::vector<KeySpec>& keys, const std::string& name) {
  if (keys.size() == 1 && keys.front().name == "ANY") return &keys.front();
  for (const auto& k : keys)
    if (k.name == name) return &k;
  return nullptr;
}

// The kind of a JSON array item (item_kind); null is left for the validator to name.
const KeySpec* item_spec(const KeySpec& array, const rapidjson::Value& item) {
  return item_kind(array, [&](const std::string& key) -> std::optional<std::string> {
    if (!item.IsObject()) return std::nullopt;
    const auto it = item.FindMember(key.c_str());
    if (it == item.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return string_of(it->value);
  });
}

plist_t to_plist(const rapidjson::Value& v, const KeySpec* spec, const std::string& path,
                 int depth);

plist_t dictionary(const rapidjson::Value& v, const KeySpec* spec, const std::string& path,
                   int depth) {
  if (!v.IsObject()) mistyped(v, "an object", path);
  plist_t dict = plist_new_dict();
  try {
    for (const auto& m : v.GetObject()) {
      const std::string name = string_of(m.name);
      const std::string member_path = path + "." + name;
      const KeySpec* member = nullptr;
      if (spec && !spec->subkeys.empty()) {
        member = member_spec(spec->subkeys, name);
        if (!member) throw InvalidCommand(member_path, "unknown key");
      }
      plist_dict_set_item(dict, name.c_str(), to_plist(m.value, member, member_path, depth + 1));
    }
  } catch (...) {
    plist_free(dict);
    throw;
  }
  return dict;
}

plist_t array(const rapidjson::Value& v, const KeySpec* spec, const std::string& path, int depth) {
  if (!v.IsArray()) mistyped(v, "an array", path);
  plist_t out = plist_new_array();
  try {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      plist_array_append_item(out, to_plist(v[i], spec ? item_spec(*spec, v[i]) : nullptr,
                                            path + "[" + std::to_string(i) + "]", depth + 1));
  } catch (...) {
    plist_free(out);
    throw;
  }
  return out;
}

// As deep as plists may be (PlistLimits): a command nested deeper is no command a device takes.
constexpr int kMaxDepth = 64;

plist_t to_plist(const rapidjson::Value& v, const KeySpec* spec, const std::string& path,
                 int depth) {
  if (depth > kMaxDepth)
    throw InvalidCommand(path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
  const ValueType type = spec && spec->type != ValueType::kAny ? spec->type : inferred(v);
  switch (type) {
    case ValueType::kString:
      if (!v.IsString()) mistyped(v, "a string", path);
      return plist_new_string(string_of(v).c_str());
    case ValueType::kBoolean:
      if (!v.IsBool()) mistyped(v, "a boolean", path);
      return plist_new_bool(v.GetBool());
    case ValueType::kInteger:
      if (!v.IsInt64()) mistyped(v, "an integer", path);
      return plist_new_uint(static_cast<uint64_t>(v.GetInt64()));
    case ValueType::kReal:
      if (!v.IsNumber()) mistyped(v, "a number", path);
      return plist_new_real(v.GetDouble());
    case ValueType::kDate: {
      if (!v.IsString()) mistyped(v, "a date (RFC 3339 string)", path);
      const auto t = parse_rfc3339(string_of(v));
      if (!t) throw InvalidCommand(path, "must be an RFC 3339 date such as 2026-11-23T10:00:00Z");
      const auto us =
          std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
      const int64_t seconds = us / 1000000 - kPlistDateEpoch;
      if (seconds < std::numeric_limits<int32_t>::min() ||
          seconds > std::numeric_limits<int32_t>::max())
        throw InvalidCommand(path, "date out of range");
      return plist_new_date(static_cast<int32_t>(seconds), static_cast<int32_t>(us % 1000000));
    }
    case ValueType::kData: {
      if (!v.IsString()) mistyped(v, "base64 data (a string)", path);
      std::string bytes;
      try {
        bytes = base64_decode(string_of(v));
      } catch (const BadRequest&) {
        throw InvalidCommand(path, "is not valid base64");
      }
      return plist_new_data(bytes.data(), bytes.size());
    }
    case ValueType::kArray:
      return array(v, spec, path, depth);
    case ValueType::kDictionary:
      return dictionary(v, spec, path, depth);
    case ValueType::kAny:
      break;
  }
  throw InvalidCommand(path, "must not be null");
}

}  // namespace

Plist value_from_json(const rapidjson::Value& value, const KeySpec* spec, const std::string& path) {
  return Plist::adopt(to_plist(value, spec, path, 0));
}

Plist command_from_json(const CommandCatalog& catalog, const CommandSpec& spec,
                        const rapidjson::Value& fields, const std::string& command_uuid,
                        const std::set<std::string, std::less<>>& reserved) {
  if (!fields.IsObject()) throw BadRequest("the command must be a JSON object");
  Plist body = Plist::new_dict();
  body.set_string("RequestType", spec.request_type);
  for (const auto& m : fields.GetObject()) {
    const std::string name = string_of(m.name);
    if (reserved.contains(name)) continue;
    const std::string path = "Command." + name;
    const KeySpec* key = member_spec(spec.keys, name);
    if (!key) throw InvalidCommand(path, "unknown key for " + spec.request_type);
    plist_dict_set_item(body.root(), name.c_str(), to_plist(m.value, key, path, 1));
  }
  Plist command = Plist::new_dict();
  command.set_string("CommandUUID", command_uuid);
  command.set("Command", std::move(body));
  catalog.validate(command);
  return command;
}

}  // namespace cairn::protocol
