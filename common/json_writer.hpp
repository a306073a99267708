// A thin convenience over rapidjson's Writer for the JSON the admin API returns.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return ok(w_.StartObject()); }
  JsonWriter& end_object() { return ok(w_.EndObject()); }
  JsonWriter& begin_array() { return ok(w_.StartArray()); }
  JsonWriter& end_array() { return ok(w_.EndArray()); }
  JsonWriter& key(std::string_view k) {
    return ok(w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())));
  }
  JsonWriter& value(std::string_view v) {
    return ok(w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())));
  }
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(const std::string& v) { return value(std::string_view(v)); }
  JsonWriter& value(bool v) { return ok(w_.Bool(v)); }
  JsonWriter& value(int64_t v) { return ok(w_.Int64(v)); }
  JsonWriter& value(uint32_t v) { return ok(w_.Uint(v)); }
  JsonWriter& value(int v) { return ok(w_.Int(v)); }
  JsonWriter& value(double v) { return ok(w_.Double(v)); }
  // Inserts an already-encoded JSON object as the next value.
  // A value already encoded as JSON (any type).
  JsonWriter& raw_value(std::string_view json) {
    return ok(w_.RawValue(json.data(), json.size(), rapidjson::kObjectType));
  }
  JsonWriter& raw_object(std::string_view json) {
    return ok(w_.RawValue(json.data(), json.size(), rapidjson::kObjectType));
  }
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  // Omits the field when the string is empty (NanoMDM's omitempty).
  JsonWriter& field_if(std::string_view k, std::string_view v) {
    return v.empty() ? *this : field(k, v);
  }
  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  JsonWriter& ok(bool) { return *this; }
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> w_{buffer_};
};

}  // namespace cairn
