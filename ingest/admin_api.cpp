#include "ingest/admin_api.hpp"

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "projector/declarative.hpp"
#include "projector/inventory.hpp"
#include "protocol/messages.hpp"

namespace cairn::ingest {
namespace {

using projector::CommandRecord;
using projector::CommandState;
using projector::DeviceRecord;

// What one device's own page shows beyond its record: the enrollment profile it installed (when
// Cairn handed it out), identities bound to it that it has not used yet (by fingerprint), its
// inventory and the DDM status items it reported, whether a bootstrap token is escrowed, and its
// user channels.
struct DeviceDetails {
  std::optional<projector::EnrollmentProfileRecord> profile;
  std::vector<std::string> pending;
  std::vector<std::pair<std::string, projector::InventoryRecord>> inventory;
  std::vector<std::pair<std::string, projector::StatusValueRecord>> status_items;
  bool bootstrap_token = false;
  std::vector<DeviceRecord> user_channels;
};

void write_device(JsonWriter& j, const DeviceRecord& d, const DeviceDetails* details = nullptr) {
  j.begin_object()
      .field("udid", d.udid)
      .field_if("device_udid", protocol::is_user_channel_id(d.udid)
                                   ? protocol::device_channel_of(d.udid).value()
                                   : std::string())
      .field_if("user_short_name", d.user_short_name)
      .field_if("user_long_name", d.user_long_name)
      .field("enrollment_state", projector::enrollment_state_name(d.state))
      .field("topic", d.topic)
      .field_if("serial_number", d.serial_number)
      .field_if("certificate_fingerprint", d.certificate_fingerprint)  // a user channel: none
      .field_if("identity_source", d.identity_source)
      .field("pushable", !d.token_hex.empty() && d.state == projector::EnrollmentState::kEnrolled)
      .field("unlock_token_escrowed", d.unlock_token_escrowed);
  if (details) j.field("bootstrap_token_escrowed", details->bootstrap_token);
  j.field("awaiting_configuration", d.awaiting_configuration)
      .field("first_seen", d.first_seen)
      .field("last_seen", d.last_seen)
      .field_if("authenticated_at", d.authenticated_at)
      .field_if("enrolled_at", d.enrolled_at)
      .field_if("checked_out_at", d.checked_out_at)
      .field("enrollments", d.enrollments)
      .field_if("last_push_at", d.last_push_at)
      .field_if("push_token_invalid_since", d.push_token_invalid_since)
      .field_if("push_token_invalid_reason", d.push_token_invalid_reason)
      .field_if("inactive_since", d.inactive_since)
      .field_if("enrollment_profile", d.enrollment_profile)
      .field("development_apns", d.development_apns)
      .field_if("reenrollment_allowed", d.reenrollment_allowed)
      .field_if("reenrollment_allowed_until", d.reenrollment_allowed_until);
  if (!details) {
    j.end_object();
    return;
  }
  if (!details->pending.empty()) {
    j.key("pending_identities").begin_array();
    for (const auto& fingerprint : details->pending) j.value(fingerprint);
    j.end_array();
  }
  if (!details->inventory.empty()) {
    j.key("inventory").begin_object();
    for (const auto& [field, r] : details->inventory) {
      j.key(field).begin_object().key("value").raw_value(r.json);
      j.field("updated_at", r.updated_at).field("command_uuid", r.command_uuid).end_object();
    }
    j.end_object();
  }
  if (!details->status_items.empty()) {
    j.key("status_items").begin_object();
    for (const auto& [item, v] : details->status_items) {
      j.key(item).begin_object().key("value").raw_value(v.json);
      j.field("updated_at", v.received_at).field("status_id", v.report_id).end_object();
    }
    j.end_object();
  }
  if (details->profile) j.field("access_rights", details->profile->access_rights);
  if (!details->user_channels.empty()) {
    j.key("user_channels").begin_array();
    for (const auto& channel : details->user_channels) write_device(j, channel);
    j.end_array();
  }
  j.end_object();
}

// A page of devices and the cursor for the next one (none when empty).
ApiResponse device_page(const std::vector<DeviceRecord>& page, const std::string& next_after) {
  JsonWriter j;
  j.begin_object().key("devices").begin_array();
  for (const auto& d : page) write_device(j, d);
  j.end_array().field_if("next_after", next_after).end_object();
  return {200, j.str()};
}

}  // namespace

std::string AdminApi::result_of(const CommandRecord& c) const {
  if (c.result_offset < 0) return {};
  const auto records = log_.read(PartitionId(c.result_partition), Offset(c.result_offset), 1,
                                 std::chrono::milliseconds(0));
  if (records.empty()) return {};
  try {
    const auto event = events::decode(records.front().value);
    const auto* reported = std::get_if<events::CommandReported>(&event.payload);
    return reported && reported->command_uuid == c.command_uuid ? reported->message.body
                                                                : std::string();
  } catch (const std::runtime_error&) {
    return {};  // an event this version cannot read: list the command without its result
  }
}

void AdminApi::write_command(JsonWriter& j, const CommandRecord& c, bool with_result) const {
  j.begin_object()
      .field("udid", c.udid)
      .field("command_uuid", c.command_uuid)
      .field("request_type", c.request_type)
      .field("status", projector::command_state_name(c.state))
      .field("actor", c.actor)
      .field("enqueued_at", c.enqueued_at)
      .field_if("last_delivered_at", c.last_delivered_at)
      .field_if("finished_at", c.finished_at)
      .field("deliveries", c.deliveries)
      .field("not_now_count", c.not_now_count)
      .field("duplicate_results", c.duplicate_results);
  if (!c.error_chain.empty()) {
    j.key("error_chain").begin_array();
    for (const auto& link : c.error_chain)
      j.begin_object()
          .field("domain", link.domain)
          .field("code", link.code)
          .field("description", link.description)
          .end_object();
    j.end_array();
  }
  if (with_result) j.field_if("result", result_of(c));
  j.end_object();
}

ApiResponse AdminApi::allow_reenrollment(const std::string& udid, const std::string& note,
                                         std::chrono::hours valid_for, const Principal& actor) {
  if (!protocol::is_valid_identifier(udid))
    throw BadRequest("invalid device id (a user channel enrolls with its device: name the device)");
  if (valid_for.count() < 1 || valid_for > std::chrono::days(30))
    throw BadRequest("hours must be from 1 to 720");
  writer_.wait_caught_up();
  if (!reader_.device(DeviceId(udid))) return not_found("device");
  const std::string until = format_rfc3339(std::chrono::system_clock::now() + valid_for);
  // Applied before answering: the device may try again at once, on this node.
  writer_.append_and_wait_applied(
      {writer_.make(udid, actor.name, events::ReenrollmentAllowed{note, until})});
  JsonWriter j;
  j.begin_object().field("udid", udid).field("reenrollment_allowed_until", until).end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::devices_matching(const DeviceFilters& filters, const std::string& after,
                                       size_t limit) const {
  if (filters.empty()) return devices(after, limit);
  require_known_filters(filters);
  const auto matching = reader_.devices_matching_all(filters, after, limit, 20 * limit);
  std::vector<DeviceRecord> page;
  for (const auto& udid : matching.devices)
    if (auto d = reader_.device(udid)) page.push_back(std::move(*d));
  return device_page(page, matching.cursor);
}

ApiResponse AdminApi::devices(const std::string& after, size_t limit) const {
  const auto page = reader_.devices(after, limit);
  return device_page(page, page.size() == limit && !page.empty() ? page.back().udid : "");
}

ApiResponse AdminApi::device(const std::string& udid) const {
  if (!protocol::is_valid_channel_id(udid)) throw BadRequest("invalid device id");
  auto d = reader_.device(DeviceId(udid));
  if (!d) return not_found("device");
  JsonWriter j;
  const DeviceDetails details{d->enrollment_profile.empty()
                                  ? std::nullopt
                                  : reader_.enrollment_profile(d->enrollment_profile),
                              reader_.pending_identities(DeviceId(udid)),
                              reader_.inventory(DeviceId(udid)),
                              projector::DeclarativeReader(reader_.store()).status_values(udid),
                              reader_.bootstrap_token_sealed(DeviceId(udid)).has_value(),
                              reader_.user_channels(DeviceId(udid))};
  write_device(j, *d, &details);
  return {200, j.str()};
}

ApiResponse AdminApi::device_commands(const std::string& udid) const {
  if (!protocol::is_valid_channel_id(udid)) throw BadRequest("invalid device id");
  if (!reader_.device(DeviceId(udid))) return not_found("device");
  JsonWriter j;
  j.begin_object().key("queue").begin_array();
  for (const auto& c : reader_.queue(DeviceId(udid))) write_command(j, c, false);
  j.end_array().key("finished").begin_array();
  for (const auto& c : reader_.commands(DeviceId(udid)))
    if (!projector::is_queued(c.state)) write_command(j, c, true);
  j.end_array().end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::command(const std::string& uuid) const {
  if (!protocol::is_valid_identifier(uuid)) throw BadRequest("invalid command UUID");
  const auto targets = reader_.command_targets(CommandUuid(uuid));
  if (targets.empty()) return not_found("command");
  JsonWriter j;
  j.begin_object().field("command_uuid", uuid).key("devices").begin_array();
  for (const auto& c : targets) write_command(j, c, true);
  j.end_array().end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::commands(const std::string& status, const std::string& after,
                               size_t limit) const {
  std::string known;
  bool valid = false;
  for (uint8_t s = 0; s <= static_cast<uint8_t>(CommandState::kCancelled); ++s) {
    const auto name = projector::command_state_name(static_cast<CommandState>(s));
    valid = valid || name == status;
    known += (known.empty() ? "" : ", ") + std::string(name);
  }
  if (!valid) throw BadRequest("status must be one of " + known);
  if (after.size() > 512) throw BadRequest("after is not a cursor this server gave");
  const auto page = reader_.commands_in_state(status, after, limit);
  JsonWriter j;
  j.begin_object().field("status", status).key("commands").begin_array();
  for (const auto& c : page.commands) write_command(j, c, false);
  j.end_array().field_if("next_after", page.cursor).end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::projection() const {
  const auto digest = store_.digest();
  JsonWriter j;
  j.begin_object().field("digest", digest.sha256).key("positions").begin_object();
  for (const auto& [partition, next] : digest.positions) j.field(std::to_string(partition), next);
  j.end_object().end_object();
  return {200, j.str()};
}

}  // namespace cairn::ingest
