#include "ingest/command_api.hpp"

#include <rapidjson/document.h>

#include <map>
#include <set>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "crypto/digest.hpp"
#include "plist/plist.hpp"
#include "protocol/access_rights.hpp"
#include "protocol/command_catalog.hpp"
#include "protocol/command_json.hpp"
#include "protocol/messages.hpp"

namespace cairn::ingest {
namespace {

using projector::DeviceRecord;

// The command as it will be sent: the admin's own bytes when they are an XML plist, else
// libplist's XML rendering of it (devices are sent XML).
std::string command_xml(std::string_view body, const Plist& parsed) {
  if (!body.starts_with("bplist00")) return std::string(body);
  return parsed.to_xml();
}

}  // namespace

std::string CommandApi::refusal(const std::string& udid, bool& caught_up,
                                std::optional<DeviceRecord>* device) const {
  if (!protocol::is_valid_channel_id(udid)) return "invalid device id";
  auto d = reader_.device(DeviceId(udid));
  const auto why = [&]() -> std::string {
    if (!d) return "unknown device";
    if (d->state == projector::EnrollmentState::kCheckedOut) return "device checked out";
    return {};
  };
  if (!why().empty() && !caught_up) {
    writer_.wait_caught_up();
    caught_up = true;
    d = reader_.device(DeviceId(udid));
  }
  if (auto refused = why(); !refused.empty()) return refused;
  if (device) *device = std::move(d);
  return {};
}

CommandApi::Queued CommandApi::enqueue_to(const std::vector<std::string>& ids,
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
  bool caught_up = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    std::optional<DeviceRecord> d;
    std::string why = refusal(id, caught_up, &d);
    if (why.empty() && !command.fresh_uuid && reader_.command(DeviceId(id), uuid)) {
      why = "command UUID already used for this device";
    } else if (why.empty() && command.device_channel_only && protocol::is_user_channel_id(id)) {
      why = command.request_type +
            " goes to devices only: Apple's schema does not take it on a "
            "user channel";
    } else if (why.empty() && command.request_type == protocol::kEscrowedUnlockTokenCommand &&
               !d->unlock_token_escrowed) {
      why =
          "no UnlockToken escrowed: the device has sent none in a TokenUpdate, so ClearPasscode "
          "cannot work on it";
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

void CommandApi::require_role_for(std::string_view request_type, const Principal& actor) {
  if (needs_admin(request_type) && !actor.may(Role::kAdmin))
    throw ClientError(403, std::string(request_type) + " needs an admin key (this key's role is " +
                               std::string(role_name(actor.role)) + ")");
}

ApiResponse CommandApi::enqueue(const std::vector<std::string>& ids, std::string_view body,
                                bool no_push, const Principal& actor, bool validate) {
  if (ids.empty()) throw BadRequest("no device ids in the path");
  const Plist parsed = Plist::parse(body);
  const auto command = protocol::decode_command(parsed);
  if (!protocol::is_valid_identifier(command.uuid.value()))
    throw BadRequest("CommandUUID must be 1-128 characters of [A-Za-z0-9._-]");
  protocol::refuse_escrowed_keys(parsed);  // even unvalidated: a secret must not reach the log
  const auto& catalog = protocol::CommandCatalog::builtin();
  const protocol::CommandSpec* spec =
      validate ? &catalog.validate(parsed) : catalog.find(command.request_type);
  require_role_for(command.request_type, actor);
  const auto queued =
      enqueue_to(ids,
                 {command.uuid.value(), command.request_type, command_xml(body, parsed),
                  spec ? spec->access_right : 0, spec && !spec->user_channel, no_push, false},
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

ApiResponse CommandApi::enqueue_typed(std::string_view json, const Principal& actor) {
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
  protocol::refuse_escrowed_keys(command);
  const auto queued = enqueue_to(ids,
                                 {uuid, request_type, command.to_xml(), spec->access_right,
                                  !spec->user_channel, no_push, fresh_uuid},
                                 actor);
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

ApiResponse CommandApi::catalog() const {
  const auto& c = protocol::CommandCatalog::builtin();
  JsonWriter j;
  j.begin_object().field("source", c.source()).key("commands").begin_array();
  for (const auto& spec : c.commands()) {
    j.begin_object()
        .field("request_type", spec.request_type)
        .field("title", spec.title)
        .field("access_right", spec.access_right)
        .field("user_channel", spec.user_channel)
        .key("os")
        .begin_object();
    for (const auto& [os, support] : spec.os) {
      j.key(os).begin_object().field("introduced", support.introduced);
      j.field_if("access_right", support.access_right).end_object();
    }
    // The Command dictionary's own keys, for clients that build forms (the console, `cairn
    // commands send`); nested keys are checked when the command is sent.
    j.end_object().key("keys").begin_array();
    for (const auto& key : spec.keys) {
      j.begin_object()
          .field("name", key.name)
          .field("type", protocol::value_type_name(key.type))
          .field("required", key.required);
      if (!key.range.empty()) {
        j.key("range").begin_array();
        for (const auto& v : key.range) j.value(v);
        j.end_array();
      }
      j.end_object();
    }
    j.end_array().end_object();
  }
  j.end_array().end_object();
  return {200, j.str()};
}

ApiResponse CommandApi::cancel(const std::string& uuid, const std::vector<std::string>& ids,
                               const Principal& actor) {
  if (!protocol::is_valid_identifier(uuid)) throw BadRequest("invalid command UUID");
  const CommandUuid command(uuid);
  writer_.wait_caught_up();  // every device it was queued for, through any node
  std::vector<projector::CommandRecord> targets;
  if (ids.empty()) {
    targets = reader_.command_targets(command);
  } else {
    for (const auto& id : ids)
      if (protocol::is_valid_channel_id(id))
        if (auto c = reader_.command(DeviceId(id), command)) targets.push_back(std::move(*c));
  }
  if (targets.empty()) return not_found("command on these devices");
  // Chunks, each applied before the next is written (as enqueue_to does for a large request).
  constexpr size_t kChunk = 4096;
  std::vector<events::Event> batch;
  for (const auto& t : targets) {
    if (!projector::is_queued(t.state)) continue;
    batch.push_back(writer_.make(t.udid, actor.name, events::CommandCancelled{uuid}));
    if (batch.size() == kChunk) {
      writer_.append_and_wait_applied(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) writer_.append_and_wait_applied(batch);
  // What became of each, read back after the cancels applied: a device may have finished the
  // command in between (the log decides which came first).
  int64_t cancelled = 0;
  JsonWriter j;
  j.begin_object().field("command_uuid", uuid).key("devices").begin_object();
  for (const auto& t : targets) {
    const auto now = reader_.command(DeviceId(t.udid), command);
    const auto state = now ? now->state : t.state;
    std::string outcome;
    if (state == projector::CommandState::kCancelled && projector::is_queued(t.state)) {
      ++cancelled;
      outcome = now->deliveries == 0 ? "cancelled"
                                     : "cancelled after " + std::to_string(now->deliveries) +
                                           " deliveries: the device may have run it";
    } else {
      outcome = "already " + std::string(projector::command_state_name(state));
    }
    j.field(t.udid, outcome);
  }
  j.end_object().field("cancelled", cancelled).end_object();
  return {200, j.str()};
}

ApiResponse CommandApi::push(const std::vector<std::string>& ids, const Principal& actor) {
  if (ids.empty()) throw BadRequest("no device ids in the path");
  IdRefusals errors;
  std::vector<events::Event> batch;
  bool caught_up = false;
  for (const auto& id : ids) {
    if (auto why = refusal(id, caught_up); !why.empty()) {
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

}  // namespace cairn::ingest
