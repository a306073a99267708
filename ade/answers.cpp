#include "ade/answers.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "projector/ade.hpp"

namespace cairn::ade {
namespace {

rapidjson::Document parse(std::string_view json) {
  if (json.size() > kLargestAnswer) throw AdeAnswerError("the answer is larger than 8 MiB");
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) throw AdeAnswerError("the answer is not a JSON object");
  return d;
}

// A string member, cut to kLongestField; empty when absent or not a string.
std::string text(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), std::min<size_t>(it->value.GetStringLength(), kLongestField)};
}

std::string required_text(const rapidjson::Value& object, const char* name) {
  auto value = text(object, name);
  if (value.empty()) throw AdeAnswerError(std::string("the answer has no ") + name);
  return value;
}

}  // namespace

DevicePage read_device_page(std::string_view json) {
  const auto d = parse(json);
  const rapidjson::Value& root = d;
  DevicePage page;
  page.cursor = text(root, "cursor");
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
  return required_text(parse(json), "auth_session_token");
}

std::string read_profile_uuid(std::string_view json) {
  return required_text(parse(json), "profile_uuid");
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
        {std::string(s), std::string(status.GetString(),
                                     std::min<size_t>(status.GetStringLength(), kLongestField))});
  }
  return answer;
}

}  // namespace cairn::ade
