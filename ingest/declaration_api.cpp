#include "ingest/declaration_api.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "crypto/digest.hpp"
#include "plist/plist.hpp"
#include "protocol/declaration_catalog.hpp"
#include "protocol/messages.hpp"

namespace cairn::ingest {
namespace {

constexpr std::string_view kSyncCommand = "DeclarativeManagement";

ApiResponse changed(bool yes) {
  return {yes ? 204 : 304, ""};
}

ApiResponse list(const std::vector<std::string>& names) {
  JsonWriter j;
  j.begin_array();
  for (const auto& n : names) j.value(n);
  j.end_array();
  return {200, j.str()};
}

void require_name(const std::string& name, const char* what) {
  if (!protocol::is_valid_identifier(name))
    throw BadRequest(std::string(what) + " must be 1-128 characters of [A-Za-z0-9._-]");
}

void require_enrollments(const std::vector<std::string>& ids) {
  if (ids.empty()) throw BadRequest("name at least one enrollment");
  if (ids.size() > 1000) throw BadRequest("at most 1,000 enrollments per request");
  for (const auto& id : ids)
    if (!protocol::is_valid_channel_id(id)) throw BadRequest("invalid enrollment id " + id);
}

// {"<enrollment>": [...], ...}: `write` fills each enrollment's array (KMFDDM's status shape).
ApiResponse per_enrollment(const std::vector<std::string>& enrollments,
                           const std::function<void(JsonWriter&, const std::string&)>& write) {
  require_enrollments(enrollments);
  JsonWriter j;
  j.begin_object();
  for (const auto& id : enrollments) {
    j.key(id).begin_array();
    write(j, id);
    j.end_array();
  }
  j.end_object();
  return {200, j.str()};
}

// The command a device is sent to sync: its tokens, as its tokens endpoint would answer.
std::string sync_command(const std::string& uuid, const projector::Manifest& manifest) {
  JsonWriter tokens;
  tokens.begin_object().key("SyncTokens").begin_object();
  tokens.field("DeclarationsToken", manifest.token).field("Timestamp", manifest.timestamp);
  tokens.end_object().end_object();
  Plist command = Plist::new_dict();
  command.set_string("RequestType", kSyncCommand);
  command.set_data("Data", tokens.str());
  Plist message = Plist::new_dict();
  message.set_string("CommandUUID", uuid);
  message.set("Command", std::move(command));
  return message.to_xml();
}

}  // namespace

std::set<std::string> DeclarationApi::enrollments_given(
    std::vector<std::string> declarations) const {
  std::set<std::string> seen, enrollments;
  while (!declarations.empty()) {
    std::string id = std::move(declarations.back());
    declarations.pop_back();
    if (!seen.insert(id).second) continue;
    for (auto& referrer : ddm_.referrers(id)) declarations.push_back(std::move(referrer));
    for (const auto& set : ddm_.declaration_sets(id))
      for (auto& e : ddm_.set_enrollments(set)) enrollments.insert(std::move(e));
  }
  return enrollments;
}

namespace {

// Appends events in chunks, each durable before the next is made (as CommandApi does: a change to
// 100,000 enrollments holds one chunk of events at a time, and their log positions), then waits
// until all are applied.
class ChunkedAppend {
 public:
  explicit ChunkedAppend(EventWriter& writer) : writer_(writer) {}
  void add(events::Event e) {
    batch_.push_back(std::move(e));
    if (batch_.size() == kChunk) flush();
  }
  size_t finish() {
    flush();
    if (!appended_.empty()) writer_.wait_applied(appended_);
    return appended_.size();
  }

 private:
  static constexpr size_t kChunk = 4096;
  void flush() {
    if (batch_.empty()) return;
    const auto positions = writer_.append(batch_);
    appended_.insert(appended_.end(), positions.begin(), positions.end());
    batch_.clear();
  }
  EventWriter& writer_;
  std::vector<events::Event> batch_;
  std::vector<LogPosition> appended_;
};

}  // namespace

size_t DeclarationApi::sync(const std::set<std::string>& enrollments, const Principal& actor) {
  ChunkedAppend commands(writer_);
  // A fleet shares a few combinations of sets: each one's manifest is read once per call.
  std::map<std::vector<std::string>, projector::Manifest> manifests;
  for (const auto& id : enrollments) {
    const auto device = reader_.device(DeviceId(id));
    if (!device || device->state == projector::EnrollmentState::kCheckedOut) continue;
    // Coalesced: a sync command not yet delivered makes the device fetch the newest tokens.
    const auto queue = reader_.queue(DeviceId(id));
    if (std::any_of(queue.begin(), queue.end(), [](const projector::CommandRecord& c) {
          return c.request_type == kSyncCommand && c.state == projector::CommandState::kPending;
        }))
      continue;
    const auto sets = ddm_.enrollment_sets(id);
    auto manifest = manifests.find(sets);
    if (manifest == manifests.end())
      manifest = manifests.emplace(sets, ddm_.manifest_of_sets(sets)).first;
    const std::string uuid = crypto::uuid_v4();
    commands.add(
        writer_.make(id, actor.name,
                     events::CommandEnqueued{uuid, std::string(kSyncCommand),
                                             sync_command(uuid, manifest->second), false}));
  }
  return commands.finish();
}

ApiResponse DeclarationApi::put_declaration(std::string_view json, bool notify,
                                            const Principal& actor) {
  const auto d = protocol::DeclarationCatalog::builtin().validate(json);
  writer_.wait_caught_up();
  std::vector<std::string> references;
  for (const auto& r : d.references) {
    const auto named = ddm_.declaration(r.identifier);
    if (!named)
      throw protocol::InvalidDeclaration(
          r.path, "no declaration \"" + r.identifier + "\" is stored: store it first");
    if (protocol::kind_of(named->type) != r.kind ||
        (!r.asset_types.empty() &&
         std::find(r.asset_types.begin(), r.asset_types.end(), named->type) == r.asset_types.end()))
      throw protocol::InvalidDeclaration(
          r.path, "\"" + r.identifier + "\" is a " + named->type + ", which cannot be named here");
    references.push_back(r.identifier);
  }
  const auto old = ddm_.declaration(d.identifier);
  if (old && old->content == d.content) return changed(false);
  if (old && old->type != d.type)
    throw ClientError(409, "declaration " + d.identifier + " is a " + old->type +
                               ": delete it before storing another type under its Identifier");
  writer_.append_and_wait_applied({writer_.make(
      "", actor.name,
      events::DeclarationStored{d.identifier, d.type, protocol::declaration_server_token(d.content),
                                d.content, std::move(references)})});
  if (notify) sync(enrollments_given({d.identifier}), actor);
  return changed(true);
}

ApiResponse DeclarationApi::touch_declaration(const std::string& id, bool notify,
                                              const Principal& actor) {
  require_name(id, "a declaration identifier");
  writer_.wait_caught_up();
  auto d = ddm_.declaration(id);
  if (!d) return not_found("declaration");
  writer_.append_and_wait_applied({writer_.make(
      "", actor.name,
      events::DeclarationStored{id, d->type,
                                protocol::declaration_server_token(d->content, d->server_token),
                                d->content, d->references})});
  if (notify) sync(enrollments_given({id}), actor);
  return changed(true);
}

ApiResponse DeclarationApi::delete_declaration(const std::string& id, const Principal& actor) {
  require_name(id, "a declaration identifier");
  writer_.wait_caught_up();
  if (!ddm_.declaration(id)) return changed(false);
  if (const auto sets = ddm_.declaration_sets(id); !sets.empty())
    throw ClientError(409, "declaration " + id + " is in set " + sets.front() +
                               ": take it out of its sets first");
  if (const auto referrers = ddm_.referrers(id); !referrers.empty())
    throw ClientError(
        409, "declaration " + referrers.front() + " names " + id + ": change or delete it first");
  writer_.append_and_wait_applied({writer_.make("", actor.name, events::DeclarationDeleted{id})});
  return changed(true);
}

ApiResponse DeclarationApi::declarations() const {
  return list(ddm_.declarations());
}

ApiResponse DeclarationApi::declaration(const std::string& id) const {
  require_name(id, "a declaration identifier");
  const auto d = ddm_.declaration(id);
  if (!d) return not_found("declaration");
  return {200, protocol::served_declaration(d->content, d->server_token)};
}

ApiResponse DeclarationApi::sets() const {
  return list(ddm_.sets());
}

ApiResponse DeclarationApi::set_declarations(const std::string& set) const {
  require_name(set, "a set name");
  return list(ddm_.set_declarations(set));
}

ApiResponse DeclarationApi::declaration_sets(const std::string& id) const {
  require_name(id, "a declaration identifier");
  return list(ddm_.declaration_sets(id));
}

ApiResponse DeclarationApi::set_enrollments(const std::string& set) const {
  require_name(set, "a set name");
  return list(ddm_.set_enrollments(set));
}

ApiResponse DeclarationApi::enrollment_sets(const std::string& enrollment) const {
  require_enrollments({enrollment});
  return list(ddm_.enrollment_sets(enrollment));
}

ApiResponse DeclarationApi::change_set_declaration(const std::string& set,
                                                   const std::string& declaration, bool member,
                                                   bool notify, const Principal& actor) {
  require_name(set, "a set name");
  require_name(declaration, "the declaration parameter");
  writer_.wait_caught_up();
  const auto in = ddm_.set_declarations(set);
  if ((std::find(in.begin(), in.end(), declaration) != in.end()) == member) return changed(false);
  if (member && !ddm_.declaration(declaration))
    throw BadRequest("no declaration " + declaration + " is stored");
  writer_.append_and_wait_applied(
      {writer_.make("", actor.name, events::SetDeclarationChanged{set, declaration, member})});
  if (notify) {
    const auto enrollments = ddm_.set_enrollments(set);
    sync({enrollments.begin(), enrollments.end()}, actor);
  }
  return changed(true);
}

ApiResponse DeclarationApi::change_enrollment_set(const std::string& enrollment,
                                                  const std::string& set, bool member, bool notify,
                                                  const Principal& actor) {
  require_enrollments({enrollment});
  require_name(set, "the set parameter");
  writer_.wait_caught_up();
  const auto sets = ddm_.enrollment_sets(enrollment);
  if ((std::find(sets.begin(), sets.end(), set) != sets.end()) == member) return changed(false);
  writer_.append_and_wait_applied(
      {writer_.make(enrollment, actor.name, events::EnrollmentSetChanged{set, member})});
  if (notify) sync({enrollment}, actor);
  return changed(true);
}

ApiResponse DeclarationApi::change_matching_enrollments_set(const DeviceFilters& filters, bool all,
                                                            const std::string& set, bool member,
                                                            bool notify, const Principal& actor) {
  require_name(set, "the set parameter");
  if (filters.empty() == !all)
    throw BadRequest(all ? "all=true takes no filters"
                         : "name the devices: filters as /api/v1/devices takes them "
                           "(os_version=17.1, status.passcode.is-compliant=false…), or all=true");
  require_known_filters(filters);
  writer_.wait_caught_up();
  // The devices matching now, a page at a time; each one whose sets change gets its own event.
  constexpr size_t kPage = 4096;
  ChunkedAppend changes(writer_);
  std::set<std::string> changed;
  size_t matched = 0;
  std::string cursor;
  do {
    std::vector<DeviceId> page;
    if (all) {
      for (const auto& d : reader_.devices(cursor, kPage)) page.emplace_back(d.udid);
      cursor = page.size() == kPage ? page.back().value() : "";
    } else {
      auto matching = reader_.devices_matching_all(filters, cursor, kPage, SIZE_MAX);
      page = std::move(matching.devices);
      cursor = std::move(matching.cursor);
    }
    matched += page.size();
    for (const auto& udid : page) {
      const auto sets = ddm_.enrollment_sets(udid.value());
      if ((std::find(sets.begin(), sets.end(), set) != sets.end()) == member) continue;
      changes.add(
          writer_.make(udid.value(), actor.name, events::EnrollmentSetChanged{set, member}));
      changed.insert(udid.value());
    }
  } while (!cursor.empty());
  changes.finish();
  const size_t synced = notify ? sync(changed, actor) : 0;
  JsonWriter j;
  j.begin_object().field("set", set).field("matched", static_cast<int64_t>(matched));
  j.field("changed", static_cast<int64_t>(changed.size()))
      .field("synced", static_cast<int64_t>(synced))
      .end_object();
  return {200, j.str()};
}

ApiResponse DeclarationApi::notify(const std::vector<std::string>& enrollments,
                                   const std::vector<std::string>& sets,
                                   const std::vector<std::string>& declarations,
                                   const Principal& actor) {
  for (const auto& e : enrollments)
    if (!protocol::is_valid_channel_id(e)) throw BadRequest("invalid enrollment id " + e);
  for (const auto& s : sets) require_name(s, "a set name");
  for (const auto& d : declarations) require_name(d, "a declaration identifier");
  writer_.wait_caught_up();
  std::set<std::string> targets(enrollments.begin(), enrollments.end());
  for (const auto& s : sets)
    for (auto& e : ddm_.set_enrollments(s)) targets.insert(std::move(e));
  targets.merge(enrollments_given(declarations));
  sync(targets, actor);
  return changed(true);
}

ApiResponse DeclarationApi::declaration_status(const std::vector<std::string>& enrollments) const {
  return per_enrollment(enrollments, [&](JsonWriter& j, const std::string& id) {
    for (const auto& s : ddm_.statuses(id)) {
      const auto stored = ddm_.declaration(s.identifier);
      j.begin_object()
          .field("identifier", s.identifier)
          .field("active", s.active)
          .field("valid", s.valid)
          .field("server-token", s.server_token)
          .field("current", stored && stored->server_token == s.server_token)
          .field("status_received", s.received_at);
      if (!s.reasons_json.empty()) j.key("reasons").raw_value(s.reasons_json);
      j.field("status_id", s.report_id).end_object();
    }
  });
}

ApiResponse DeclarationApi::status_errors(const std::vector<std::string>& enrollments) const {
  return per_enrollment(enrollments, [&](JsonWriter& j, const std::string& id) {
    const auto enrollment = ddm_.enrollment(id);
    if (enrollment && !enrollment->errors_json.empty() && !enrollment->reports.empty()) {
      rapidjson::Document errors;
      errors.Parse(enrollment->errors_json.data(), enrollment->errors_json.size());
      if (!errors.HasParseError() && errors.IsArray())
        for (const auto& e : errors.GetArray()) {
          rapidjson::StringBuffer buffer;
          rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
          e.Accept(w);
          j.begin_object().field("path", ".Errors").key("error").raw_value(buffer.GetString());
          j.field("timestamp", enrollment->reports.front().received_at)
              .field("status_id", enrollment->reports.front().report_id)
              .end_object();
        }
    }
    for (const auto& s : ddm_.statuses(id)) {
      if (s.valid != "invalid" && (s.active || s.reasons_json.empty())) continue;
      JsonWriter error;
      error.begin_object()
          .field("identifier", s.identifier)
          .field("server-token", s.server_token)
          .field("active", s.active)
          .field("valid", s.valid);
      if (!s.reasons_json.empty()) error.key("reasons").raw_value(s.reasons_json);
      error.end_object();
      j.begin_object()
          .field("path", ".StatusItems.management.declarations")
          .key("error")
          .raw_value(error.str())
          .field("timestamp", s.received_at)
          .field("status_id", s.report_id)
          .end_object();
    }
  });
}

ApiResponse DeclarationApi::status_values(const std::vector<std::string>& enrollments,
                                          const std::string& prefix) const {
  // KMFDDM's prefixes are paths in the report (".StatusItems.device.%"): '%' is its wildcard.
  std::string path = prefix;
  if (path.starts_with(".StatusItems.")) path.erase(0, 13);
  if (const auto wildcard = path.find('%'); wildcard != std::string::npos) path.resize(wildcard);
  return per_enrollment(enrollments, [&](JsonWriter& j, const std::string& id) {
    for (const auto& [item, v] : ddm_.status_values(id, path)) {
      j.begin_object().field("path", ".StatusItems." + item).key("value").raw_value(v.json);
      j.field("timestamp", v.received_at).field("status_id", v.report_id).end_object();
    }
  });
}

ApiResponse DeclarationApi::status_report(const std::string& enrollment, size_t index) const {
  require_enrollments({enrollment});
  const auto e = ddm_.enrollment(enrollment);
  if (!e || index >= e->reports.size()) return not_found("status report");
  const auto& at = e->reports[index];
  const auto records =
      log_.read(PartitionId(at.partition), Offset(at.offset), 1, std::chrono::milliseconds(0));
  if (records.empty()) return not_found("status report");
  const auto event = events::decode(records.front().value);
  const auto* reported = std::get_if<events::StatusReported>(&event.payload);
  if (!reported || event.id != at.report_id) return not_found("status report");
  const std::string body = reported->message.encoding == "base64"
                               ? base64_decode(reported->message.body)
                               : reported->message.body;
  return {200, projector::status_report_json(body)};
}

}  // namespace cairn::ingest
