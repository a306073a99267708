#include "ade/answers.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "common/encoding.hpp"
#include "projector/ade.hpp"

namespace cairn::ade {
namespace {

rapidjson::Document parse(std::string_view json) {
  if (json.size() > kLargestAnswer) throw AdeAnswerError("the answer is larger than 8 MiB");
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                  json.size());
  if (d.HasParseError() || !d.IsObject())
    throw AdeAnswerError("the answer is not a JSON object in UTF-8");
  return d;
}

std::string_view whole(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// A device field, cut to kLongestField at a character; empty when absent or not a string.
std::string text(const rapidjson::Value& object, const char* name) {
  return std::string(utf8_prefix(whole(object, name), kLongestField));
}

// A cursor, session token or UUID: whole or an error.
std::string token(const rapidjson::Value& object, const char* name, bool required) {
  const auto value = whole(object, name);
  if (value.size() > kLongestToken)
    throw AdeAnswerError(std::string("the answer's ") + name + " is longer than 4 KiB");
  if (required && value.empty()) throw AdeAnswerError(std::string("the answer has no ") + name);
  return std::string(value);
}

}  // namespace

DevicePage read_device_page(std::string_view json) {
  const auto d = parse(json);
  const rapidjson::Value& root = d;
  DevicePage page;
  page.cursor = token(root, "cursor", false);
  page.fetched_until = text(root, "fetched_until");
  if (const auto more = root.FindMember("more_to_follow"); more != root.MemberEnd())
    page.more_to_follow =
        more->value.IsBool()
            ? more->value.GetBool()
            : more->value.IsString() && std::string_view(more->value.GetString()) == "true";
  const auto devices = root.FindMember("devices");
  if (devices == root.MemberEnd() || devices->value.IsNull()) return page;
  if (!devices->value.IsArray()) throw AdeAnswerError("the answer's devices are not a list");
  for (const auto& record : devices->value.GetArray()) {
    if (!record.IsObject() || page.devices.size() >= kMostDevicesPerPage) {
      ++page.dropped;
      continue;
    }
    events::AdeDevice device{text(record, "serial_number"),
                             text(record, "model"),
                             text(record, "description"),
                             text(record, "color"),
                             text(record, "asset_tag"),
                             text(record, "os"),
                             text(record, "device_family"),
                             text(record, "profile_status"),
                             text(record, "profile_uuid"),
                             text(record, "profile_assign_time"),
                             text(record, "profile_push_time"),
                             text(record, "device_assigned_date"),
                             text(record, "device_assigned_by"),
                             text(record, "op_type"),
                             text(record, "op_date")};
    if (!projector::is_serial_number(device.serial_number)) {
      ++page.dropped;
      continue;
    }
    page.devices.push_back(std::move(device));
  }
  return page;
}

std::string read_session(std::string_view json) {
  return token(parse(json), "auth_session_token", true);
}

std::string read_profile_uuid(std::string_view json) {
  return token(parse(json), "profile_uuid", true);
}

AssignAnswer read_assign(std::string_view json) {
  const auto d = parse(json);
  const rapidjson::Value& root = d;
  AssignAnswer answer;
  if (const auto after = root.FindMember("retry_after_seconds");
      after != root.MemberEnd() && after->value.IsInt64())
    answer.retry_after_seconds = std::clamp<int64_t>(after->value.GetInt64(), 0, 86400);
  const auto devices = root.FindMember("devices");
  if (devices == root.MemberEnd() || !devices->value.IsObject())
    throw AdeAnswerError("the answer has no devices");
  for (const auto& [serial, status] : devices->value.GetObject()) {
    const std::string_view s(serial.GetString(), serial.GetStringLength());
    if (!projector::is_serial_number(s) || !status.IsString()) continue;
    if (answer.devices.size() >= kMostDevicesPerPage) break;
    answer.devices.push_back(
        {std::string(s),
         std::string(utf8_prefix({status.GetString(), status.GetStringLength()}, kLongestField))});
  }
  return answer;
}

}  // namespace cairn::ade
