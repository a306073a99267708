#include "audit/audit_api.hpp"

#include <rapidjson/document.h>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "protocol/messages.hpp"

namespace cairn::audit {
namespace {

// The ledger keeps the log's own form of times (milliseconds, "Z"): a bound in any other form
// of RFC 3339 is brought to it so that the comparison of strings is one of times.
std::string time_bound(const std::string& text, const char* name) {
  if (text.empty()) return {};
  const auto t = parse_rfc3339(text);
  if (!t)
    throw BadRequest(std::string(name) + " must be an RFC 3339 UTC time (2026-12-06T10:00:00Z)");
  return format_rfc3339(*t);
}

bool is_event_type(const std::string& type) {
  if (type.empty() || type.size() > 64) return false;
  for (char c : type)
    if (!std::isalpha(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

ingest::ApiResponse AuditApi::device_events(const std::string& device, const std::string& since,
                                            const std::string& until, const std::string& type,
                                            const std::string& after, size_t limit) const {
  if (!protocol::is_valid_channel_id(device)) throw BadRequest("invalid device id");
  if (!type.empty() && !is_event_type(type))
    throw BadRequest("type must be an event type (docs: schemas/events/)");
  if (after.size() > 64) throw BadRequest("after is not a cursor this server gave");
  const auto page = ledger_.timeline(device, time_bound(since, "since"), time_bound(until, "until"),
                                     type, after, limit, 20 * limit);
  JsonWriter j;
  j.begin_object().field("device", device).key("events").begin_array();
  for (const auto& [at, entry] : page.events) {
    const auto records = log_.read(at.partition, at.offset, 1, std::chrono::milliseconds(0));
    if (records.empty() || records.front().position.offset != at.offset) continue;
    const auto& value = records.front().value;
    j.begin_object()
        .field("partition", at.partition.value())
        .field("offset", at.offset.value())
        .field("type", entry.type)
        .field("time", entry.time);
    // The event as the log holds it; bytes that are not JSON (a damaged record) as a string.
    rapidjson::Document d;
    d.Parse(value.data(), value.size());
    if (d.HasParseError())
      j.field("unreadable", value);
    else
      j.key("event").raw_value(value);
    j.end_object();
  }
  j.end_array().field_if("next_after", page.cursor).end_object();
  return {200, j.str()};
}

}  // namespace cairn::audit
