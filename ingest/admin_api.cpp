#include "ingest/admin_api.hpp"

#include <rapidjson/document.h>

#include <map>
#include <set>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "crypto/digest.hpp"
#include "ingest/device_service.hpp"
#include "pki/issuer.hpp"
#include "pki/push_certificate.hpp"
#include "plist/plist.hpp"
#include "projector/inventory.hpp"
#include "protocol/access_rights.hpp"
#include "protocol/command_catalog.hpp"
#include "protocol/command_json.hpp"
#include "protocol/messages.hpp"

namespace cairn::ingest {
namespace {

using projector::CommandRecord;
using projector::DeviceRecord;

// `profile`: the enrollment profile the device installed, when it is one Cairn handed out;
// `pending`: identities bound to it that it has not used yet (shown for one device).
using Inventory = std::vector<std::pair<std::string, projector::InventoryRecord>>;

void write_device(JsonWriter& j, const DeviceRecord& d,
                  const std::optional<projector::EnrollmentProfileRecord>& profile = {},
                  const std::vector<std::string>& pending = {}, const Inventory& inventory = {}) {
  j.begin_object()
      .field("udid", d.udid)
      .field("enrollment_state", projector::enrollment_state_name(d.state))
      .field("topic", d.topic)
      .field_if("serial_number", d.serial_number)
      .field("certificate_fingerprint", d.certificate_fingerprint)
      .field("identity_source", d.identity_source)
      .field("pushable", !d.token_hex.empty() && d.state == projector::EnrollmentState::kEnrolled)
      .field("unlock_token_escrowed", d.unlock_token_escrowed)
      .field("awaiting_configuration", d.awaiting_configuration)
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
  if (!pending.empty()) {
    j.key("pending_identities").begin_array();
    for (const auto& fingerprint : pending) j.value(fingerprint);
    j.end_array();
  }
  if (!inventory.empty()) {
    j.key("inventory").begin_object();
    for (const auto& [field, r] : inventory) {
      j.key(field).begin_object().key("value").raw_value(r.json);
      j.field("updated_at", r.updated_at).field("command_uuid", r.command_uuid).end_object();
    }
    j.end_object();
  }
  if (profile) j.field("access_rights", profile->access_rights);
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

namespace {

ApiResponse not_found(std::string_view what) {
  JsonWriter j;
  j.begin_object().field("error", std::string(what) + " not found").end_object();
  return {404, j.str()};
}

// NanoMDM's per-ID status object: {"status": {"<id>": {"<field>": "<why>"}}}, omitted if empty.
void write_id_errors(JsonWriter& j, const IdRefusals& errors, std::string_view field) {
  if (errors.empty()) return;
  j.key("status").begin_object();
  for (const auto& [id, why] : errors) j.key(id).begin_object().field(field, why).end_object();
  j.end_object();
}

// NanoMDM's status codes: 200 all accepted, 207 some, 500 none.
int multi_status(const IdRefusals& errors, bool any_accepted) {
  return errors.empty() ? 200 : any_accepted ? 207 : 500;
}

// The command as it will be sent: the admin's own bytes when they are an XML plist, else
// libplist's XML rendering of it (devices are sent XML).
std::string command_xml(std::string_view body, const Plist& parsed) {
  if (!body.starts_with("bplist00")) return std::string(body);
  return parsed.to_xml();
}

}  // namespace

std::vector<std::string> split_ids(std::string_view ids) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= ids.size()) {
    size_t comma = ids.find(',', start);
    if (comma == std::string_view::npos) comma = ids.size();
    if (comma > start) out.emplace_back(ids.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string AdminApi::refusal(const std::string& udid, std::optional<DeviceRecord>* device) const {
  if (!protocol::is_valid_identifier(udid)) return "invalid device id";
  auto d = reader_.device(DeviceId(udid));
  if (!d) return "unknown device";
  if (d->state == projector::EnrollmentState::kCheckedOut) return "device checked out";
  if (device) *device = std::move(d);
  return {};
}

AdminApi::Queued AdminApi::enqueue_to(const std::vector<std::string>& ids,
                                      const CommandToQueue& command, const Principal& actor) {
  Queued out;
  size_t missing_rights = 0;
  // Devices share a handful of enrollment profiles: each is read once per request.
  std::map<std::string, int64_t> rights_of_profile;
  // A large request goes to the log in chunks, each durable before the next is checked: the
  // projection applies one chunk while the next is prepared (the two cores work at once), and a
  // log failure midway still answers which devices were queued.
  constexpr size_t kChunk = 4096;
  std::vector<events::Event> batch;
  std::vector<LogPosition> appended;
  // Appends the chunk; false when the log failed after earlier chunks were queued (then the
  // chunk's devices and those from `next` on are answered as not queued).
  auto flush = [&](size_t next) {
    if (batch.empty()) return true;
    try {
      const auto positions = writer_.append(batch);
      appended.insert(appended.end(), positions.begin(), positions.end());
      batch.clear();
      return true;
    } catch (const Unavailable& e) {
      // A failed append may still have been recorded (the log's contract): say so, with the
      // UUID to check before queueing again.
      const std::string unsure = std::string("the log failed (") + e.what() +
                                 "): may have been queued; check GET /v1/commands/" + command.uuid;
      if (appended.empty()) throw Unavailable(unsure);
      for (const auto& event : batch) out.refused.emplace_back(event.device, unsure);
      for (size_t rest = next; rest < ids.size(); ++rest)
        out.refused.emplace_back(ids[rest], "not queued: the log failed during the request");
      return false;
    }
  };
  const CommandUuid uuid(command.uuid);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    std::optional<DeviceRecord> d;
    std::string why = refusal(id, &d);
    if (why.empty() && !command.fresh_uuid && reader_.command(DeviceId(id), uuid)) {
      why = "command UUID already used for this device";
    } else if (why.empty() && command.access_right != 0 && !d->enrollment_profile.empty()) {
      auto [it, added] =
          rights_of_profile.try_emplace(d->enrollment_profile, protocol::kAllAccessRights);
      if (added)
        if (const auto p = reader_.enrollment_profile(d->enrollment_profile))
          it->second = p->access_rights;
      if ((it->second & command.access_right) == 0) {
        why = command.request_type + " needs access right " +
              protocol::access_right_label(command.access_right) +
              ", which the device's enrollment profile does not grant";
        ++missing_rights;
      }
    }
    if (!why.empty()) {
      out.refused.emplace_back(id, std::move(why));
      continue;
    }
    batch.push_back(writer_.make(
        id, actor.name,
        events::CommandEnqueued{command.uuid, command.request_type, command.xml, command.no_push}));
    if (batch.size() == kChunk && !flush(i + 1)) break;
  }
  if (batch.size() < kChunk) flush(ids.size());
  if (!appended.empty()) writer_.wait_applied(appended);
  out.any_queued = !appended.empty();
  out.all_for_access_rights = !out.refused.empty() && missing_rights == out.refused.size();
  return out;
}

void AdminApi::require_role_for(std::string_view request_type, const Principal& actor) {
  if (needs_admin(request_type) && !actor.may(Role::kAdmin))
    throw ClientError(403, std::string(request_type) + " needs an admin key (this key's role is " +
                               std::string(role_name(actor.role)) + ")");
}

ApiResponse AdminApi::enqueue(const std::vector<std::string>& ids, std::string_view body,
                              bool no_push, const Principal& actor, bool validate) {
  if (ids.empty()) throw BadRequest("no device ids in the path");
  const Plist parsed = Plist::parse(body);
  const auto command = protocol::decode_command(parsed);
  if (!protocol::is_valid_identifier(command.uuid.value()))
    throw BadRequest("CommandUUID must be 1-128 characters of [A-Za-z0-9._-]");
  const auto& catalog = protocol::CommandCatalog::builtin();
  const protocol::CommandSpec* spec =
      validate ? &catalog.validate(parsed) : catalog.find(command.request_type);
  require_role_for(command.request_type, actor);
  const auto queued =
      enqueue_to(ids,
                 {command.uuid.value(), command.request_type, command_xml(body, parsed),
                  spec ? spec->access_right : 0, no_push, false},
                 actor);
  JsonWriter j;
  j.begin_object();
  write_id_errors(j, queued.refused, "command_error");
  if (no_push) j.field("no_push", true);
  if (!queued.any_queued) j.field("command_error", "no device accepted the command");
  j.field("command_uuid", command.uuid.value()).field("request_type", command.request_type);
  j.end_object();
  const int status = !queued.any_queued && queued.all_for_access_rights
                         ? 403
                         : multi_status(queued.refused, queued.any_queued);
  return {status, j.str()};
}

ApiResponse AdminApi::enqueue_typed(std::string_view json, const Principal& actor) {
  rapidjson::Document doc;
  // Iterative: the depth of an admin's JSON must not be this thread's stack depth.
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) throw BadRequest("the body must be a JSON object");
  auto member = [&](const char* name) -> const rapidjson::Value* {
    return doc.HasMember(name) ? &doc[name] : nullptr;
  };
  const auto* type = member("request_type");
  if (!type || !type->IsString()) throw BadRequest("request_type: a string is required");
  const auto& catalog = protocol::CommandCatalog::builtin();
  const std::string request_type(type->GetString(), type->GetStringLength());
  const protocol::CommandSpec* spec = catalog.find(request_type);
  if (!spec)
    throw protocol::InvalidCommand("request_type", "unknown request type \"" + request_type +
                                                       "\" (" +
                                                       std::to_string(catalog.commands().size()) +
                                                       " are known: GET /api/v1/catalog)");
  require_role_for(request_type, actor);
  const auto* devices = member("devices");
  if (!devices || !devices->IsArray() || devices->Empty())
    throw BadRequest("devices: a non-empty array of UDIDs is required");
  std::vector<std::string> ids;
  ids.reserve(devices->Size());
  std::set<std::string_view> seen;
  for (const auto& d : devices->GetArray()) {
    if (!d.IsString()) throw BadRequest("devices: every item must be a UDID string");
    if (seen.insert(std::string_view(d.GetString(), d.GetStringLength())).second)
      ids.emplace_back(d.GetString(), d.GetStringLength());  // each device once
  }
  std::string uuid = crypto::uuid_v4();
  bool fresh_uuid = true;
  if (const auto* given = member("command_uuid")) {
    fresh_uuid = false;
    if (!given->IsString() || !protocol::is_valid_identifier(given->GetString()))
      throw BadRequest("command_uuid must be 1-128 characters of [A-Za-z0-9._-]");
    uuid = given->GetString();
  }
  bool no_push = false;
  if (const auto* flag = member("no_push")) {
    if (!flag->IsBool()) throw BadRequest("no_push must be a boolean");
    no_push = flag->GetBool();
  }
  static const std::set<std::string, std::less<>> kApiMembers{"request_type", "devices",
                                                              "command_uuid", "no_push"};
  const Plist command = protocol::command_from_json(catalog, *spec, doc, uuid, kApiMembers);
  const auto queued = enqueue_to(
      ids, {uuid, request_type, command.to_xml(), spec->access_right, no_push, fresh_uuid}, actor);
  JsonWriter j;
  j.begin_object()
      .field("command_uuid", uuid)
      .field("request_type", request_type)
      .field("queued", static_cast<int64_t>(ids.size() - queued.refused.size()));
  if (!queued.refused.empty()) {
    j.key("refused").begin_object();
    for (const auto& [id, why] : queued.refused) j.field(id, why);
    j.end_object();
  }
  j.end_object();
  const int status = queued.refused.empty()         ? 200
                     : queued.any_queued            ? 207
                     : queued.all_for_access_rights ? 403
                                                    : 422;
  return {status, j.str()};
}

ApiResponse AdminApi::catalog() const {
  const auto& c = protocol::CommandCatalog::builtin();
  JsonWriter j;
  j.begin_object().field("source", c.source()).key("commands").begin_array();
  for (const auto& spec : c.commands()) {
    j.begin_object()
        .field("request_type", spec.request_type)
        .field("title", spec.title)
        .field("access_right", spec.access_right)
        .key("os")
        .begin_object();
    for (const auto& [os, support] : spec.os) {
      j.key(os).begin_object().field("introduced", support.introduced);
      j.field_if("access_right", support.access_right).end_object();
    }
    j.end_object().end_object();
  }
  j.end_array().end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::push(const std::vector<std::string>& ids, const Principal& actor) {
  if (ids.empty()) throw BadRequest("no device ids in the path");
  IdRefusals errors;
  std::vector<events::Event> batch;
  for (const auto& id : ids) {
    if (auto why = refusal(id); !why.empty()) {
      errors.emplace_back(id, why);
      continue;
    }
    batch.push_back(writer_.make(id, actor.name, events::PushRequested{"admin request"}));
  }
  if (!batch.empty()) writer_.append(batch);
  JsonWriter j;
  j.begin_object();
  write_id_errors(j, errors, "push_error");
  if (batch.empty()) j.field("push_error", "no device accepted the push request");
  j.end_object();
  return {multi_status(errors, !batch.empty()), j.str()};
}

ApiResponse AdminApi::allow_reenrollment(const std::string& udid, const std::string& note,
                                         std::chrono::hours valid_for, const Principal& actor) {
  if (!protocol::is_valid_identifier(udid)) throw BadRequest("invalid device id");
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

ApiResponse AdminApi::devices_matching(
    const std::vector<std::pair<std::string, std::string>>& filters, const std::string& after,
    size_t limit) const {
  if (filters.empty()) return devices(after, limit);
  for (const auto& [filter, value] : filters)
    if (std::find(std::begin(projector::kInventoryFilters), std::end(projector::kInventoryFilters),
                  filter) == std::end(projector::kInventoryFilters))
      throw BadRequest("unknown filter " + filter +
                       " (os_version, model, serial, passcode_compliant, app, profile)");
  // Walk one filter's index (serial's when given: one device), check the others per device.
  // At most 20 candidates per device asked for are examined per request: a rarely matching
  // combination answers a short page with its cursor rather than walking the whole fleet.
  auto walked = std::find_if(filters.begin(), filters.end(),
                             [](const auto& f) { return f.first == "serial"; });
  if (walked == filters.end()) walked = filters.begin();
  std::vector<DeviceRecord> page;
  std::string cursor = after;
  bool more = true;
  size_t budget = 20 * limit;
  while (page.size() < limit && more && budget > 0) {
    const auto candidates =
        reader_.devices_matching(walked->first, walked->second, cursor, std::min(limit, budget));
    more = candidates.size() == std::min(limit, budget);
    budget -= std::min(budget, candidates.size());
    for (const auto& udid : candidates) {
      cursor = udid.value();
      const bool all = std::all_of(filters.begin(), filters.end(), [&](const auto& f) {
        return &f == &*walked || reader_.device_matches(udid, f.first, f.second);
      });
      if (all)
        if (auto d = reader_.device(udid)) page.push_back(std::move(*d));
      if (page.size() == limit) break;
    }
  }
  return device_page(page, page.size() == limit || more ? cursor : "");
}

ApiResponse AdminApi::devices(const std::string& after, size_t limit) const {
  const auto page = reader_.devices(after, limit);
  return device_page(page, page.size() == limit && !page.empty() ? page.back().udid : "");
}

ApiResponse AdminApi::device(const std::string& udid) const {
  if (!protocol::is_valid_identifier(udid)) throw BadRequest("invalid device id");
  auto d = reader_.device(DeviceId(udid));
  if (!d) return not_found("device");
  JsonWriter j;
  write_device(j, *d,
               d->enrollment_profile.empty() ? std::nullopt
                                             : reader_.enrollment_profile(d->enrollment_profile),
               reader_.pending_identities(DeviceId(udid)), reader_.inventory(DeviceId(udid)));
  return {200, j.str()};
}

ApiResponse AdminApi::device_commands(const std::string& udid) const {
  if (!protocol::is_valid_identifier(udid)) throw BadRequest("invalid device id");
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

ApiResponse AdminApi::projection() const {
  const auto digest = store_.digest();
  JsonWriter j;
  j.begin_object().field("digest", digest.sha256).key("positions").begin_object();
  for (const auto& [partition, next] : digest.positions) j.field(std::to_string(partition), next);
  j.end_object().end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::upload_push_certificate(std::string_view pem_bundle, const Principal& actor) {
  return record_push_certificate(pki::parse_push_certificate(pem_bundle), actor);
}

ApiResponse AdminApi::upload_push_certificate_pkcs12(std::string_view der,
                                                     const std::string& password,
                                                     const Principal& actor) {
  return record_push_certificate(pki::parse_push_certificate_pkcs12(der, password), actor);
}

ApiResponse AdminApi::record_push_certificate(const pki::PushCertificate& cert,
                                              const Principal& actor) {
  events::PushCertificateUploaded p;
  p.topic = cert.topic;
  p.certificate_pem = cert.certificate_pem;
  p.private_key_sealed = secrets_.seal(pki::private_key_pem(cert.key.get(), nullptr),
                                       pki::push_certificate_sealing_context(cert.topic));
  p.not_after = cert.not_after;
  writer_.append_and_wait_applied({writer_.make("", actor.name, std::move(p))});
  JsonWriter j;
  j.begin_object().field("topic", cert.topic).field("not_after", cert.not_after).end_object();
  return {200, j.str()};
}

ApiResponse AdminApi::push_certificates() const {
  JsonWriter j;
  j.begin_object().key("push_certificates").begin_array();
  for (const auto& c : reader_.push_certificates()) {
    const int days = pki::days_until_expiry(c.certificate_pem);
    j.begin_object()
        .field("topic", c.topic)
        .field("not_after", c.not_after)
        .field("days_left", days)
        .field("expiring_soon", days < pki::kPushCertificateWarningDays)
        .field("uploaded_at", c.uploaded_at)
        .field("uploaded_by", c.uploaded_by)
        .end_object();
  }
  j.end_array().end_object();
  return {200, j.str()};
}

}  // namespace cairn::ingest
