// Valid sample values for the command catalog's keys, as the typed API's JSON: the first listed
// value or a sample of the type, every key of a dictionary, one item of each kind in an array.
// Tests build every request type with them, and command_body() fills in required keys.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "common/encoding.hpp"
#include "protocol/command_catalog.hpp"

namespace cairn::testing {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void sample_json(JsonWriter& w, const protocol::KeySpec& k) {
  using protocol::ValueType;
  switch (k.type) {
    case ValueType::kString:
      w.String(k.range.empty() ? "sample" : k.range.front().c_str());
      return;
    case ValueType::kBoolean:
      w.Bool(true);
      return;
    case ValueType::kInteger:
      w.Int64(k.range.empty() ? 1 : std::stoll(k.range.front()));
      return;
    case ValueType::kReal:
      w.Double(1.5);
      return;
    case ValueType::kDate:
      w.String("2026-11-23T10:00:00Z");
      return;
    case ValueType::kData:
      w.String(base64_encode("sample").c_str());
      return;
    case ValueType::kArray:
      w.StartArray();
      for (const auto& item : k.subkeys) sample_json(w, item);
      if (k.subkeys.empty()) w.String("sample");
      w.EndArray();
      return;
    case ValueType::kDictionary:
      w.StartObject();
      for (const auto& member : k.subkeys) {
        w.Key(member.name == "ANY" ? "AnyKey" : member.name.c_str());
        sample_json(w, member);
      }
      w.EndObject();
      return;
    case ValueType::kAny:
      w.String("sample");
      return;
  }
}

// The typed API's JSON for `spec`: its request type and a sample of each of its keys (only the
// required ones unless `all_keys`).
inline std::string sample_command_json(const protocol::CommandSpec& spec, bool all_keys) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("request_type");
  w.String(spec.request_type.c_str());
  for (const auto& k : spec.keys) {
    if (!all_keys && !k.required) continue;
    w.Key(k.name.c_str());
    sample_json(w, k);
  }
  w.EndObject();
  return buffer.GetString();
}

}  // namespace cairn::testing
