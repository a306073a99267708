#include "projector/declarative.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/digest.hpp"
#include "plist/plist.hpp"
#include "projector/inventory.hpp"
#include "projector/keys.hpp"
#include "store/record_codec.hpp"

namespace cairn::projector {
namespace {

using keys::ddm;
using keys::ddm_prefix;

void erase_prefix(State& state, const std::string& prefix) {
  std::vector<std::string> found;
  state.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    found.emplace_back(key);
    return true;
  });
  for (const auto& key : found) state.erase(key);
}

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  v.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string string_member(const rapidjson::Value& v, const char* name) {
  const auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

// A membership kept both ways (by either name), present or not.
void set_membership(State& state, const std::string& one_way, const std::string& other_way,
                    bool member) {
  for (const auto& key : {one_way, other_way})
    if (member)
      state.put(key, "");
    else
      state.erase(key);
}

DeclarativeEnrollmentRecord touch_enrollment(State& state, const events::Event& e) {
  auto r = store::load_record<DeclarativeEnrollmentRecord>(
               state, ddm(keys::kDeclarativeEnrollment, e.device))
               .value_or(DeclarativeEnrollmentRecord{});
  if (r.first_request_at.empty()) r.first_request_at = e.time;
  r.last_request_at = e.time;
  return r;
}

// management.declarations: each declaration's status, by kind.
void apply_declaration_statuses(State& state, const events::Event& e,
                                const rapidjson::Value& declarations,
                                DeclarativeEnrollmentRecord& enrollment) {
  if (!declarations.IsObject()) return;
  const auto prefix = ddm_prefix(keys::kDeclarationStatus, e.device);
  size_t kept = 0;
  state.scan(prefix, {}, [&](std::string_view, std::string_view) {
    ++kept;
    return true;
  });
  for (const auto& kind : declarations.GetObject()) {
    if (!kind.value.IsArray()) continue;
    for (const auto& item : kind.value.GetArray()) {
      if (!item.IsObject()) continue;
      DeclarationStatusRecord r;
      r.identifier = string_member(item, "identifier");
      if (r.identifier.empty() || r.identifier.size() > 128 ||
          r.identifier.find('/') != std::string::npos)
        continue;
      r.server_token = string_member(item, "server-token");
      const auto active = item.FindMember("active");
      r.active = active != item.MemberEnd() && active->value.IsBool() && active->value.GetBool();
      r.valid = string_member(item, "valid");
      if (const auto reasons = item.FindMember("reasons"); reasons != item.MemberEnd())
        r.reasons_json = compact(reasons->value);
      r.received_at = e.time;
      r.report_id = e.id;
      const auto key = ddm(keys::kDeclarationStatus, e.device, r.identifier);
      const bool known = state.get(key).has_value();
      if ((!known && kept >= kMostStatusValues) || r.reasons_json.size() > kLongestStatusValue) {
        ++enrollment.values_dropped;
        continue;
      }
      kept += known ? 0 : 1;
      state.put(key, store::encode_record(r));
    }
  }
}

// The enrollment's status values as they stand, read with one scan per report and kept in step
// with the store as the report changes them; every change moves the value's filter entry too.
class StatusValues {
 public:
  StatusValues(State& state, const std::string& enrollment)
      : state_(state),
        enrollment_(enrollment),
        prefix_(ddm_prefix(keys::kStatusValue, enrollment)) {
    state_.scan(prefix_, {}, [&](std::string_view key, std::string_view value) {
      values_.emplace(key.substr(prefix_.size()),
                      store::decode_record<StatusValueRecord>(value).json);
      return true;
    });
  }
  size_t size() const { return values_.size(); }
  bool contains(const std::string& item) const { return values_.contains(item); }

  void put(const std::string& item, StatusValueRecord record) {
    const auto old = values_.find(item);
    index_status_value(state_, enrollment_, item, old == values_.end() ? "" : old->second,
                       record.json);
    values_[item] = record.json;
    state_.put(prefix_ + item, store::encode_record(record));
  }
  void forget(const std::string& item) {
    if (const auto it = values_.find(item); it != values_.end()) forget(it);
  }
  // Those under `item` ("<item>.…"); all of them when `item` is empty.
  void forget_under(const std::string& item) {
    const std::string start = item.empty() ? item : item + ".";
    for (auto it = values_.lower_bound(start); it != values_.end() && it->first.starts_with(start);)
      it = forget(it);
  }

 private:
  std::map<std::string, std::string>::iterator forget(
      std::map<std::string, std::string>::iterator it) {
    index_status_value(state_, enrollment_, it->first, it->second, "");
    state_.erase(prefix_ + it->first);
    return values_.erase(it);
  }

  State& state_;
  const std::string enrollment_;
  const std::string prefix_;
  std::map<std::string, std::string> values_;  // item path → its value's JSON
};

// Every other status item, leaf by leaf ("device.operating-system.version"), within the bounds.
// A report that is not full changes only what it names: an item it names replaces what was there,
// whether a value or an object of them; a value it cannot keep (too long) is forgotten, never left
// standing for a filter to find.
void apply_status_values(const events::Event& e, const rapidjson::Value& items,
                         const std::string& path, StatusValues& values,
                         DeclarativeEnrollmentRecord& enrollment) {
  for (const auto& m : items.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    const std::string item = path.empty() ? name : path + "." + name;
    if (item == "management.declarations") continue;  // the declarations' own status above
    if (m.value.IsObject() && m.value.MemberCount() > 0 && item.size() < kLongestStatusPath) {
      values.forget(item);  // a value before, now an object
      apply_status_values(e, m.value, item, values, enrollment);
      continue;
    }
    std::string json = compact(m.value);
    if (item.size() > kLongestStatusPath || json.size() > kLongestStatusValue ||
        !is_valid_utf8(item) || (!values.contains(item) && values.size() >= kMostStatusValues)) {
      ++enrollment.values_dropped;
      values.forget(item);
      continue;
    }
    values.forget_under(item);  // an object before, now a value
    values.put(item, StatusValueRecord{std::move(json), e.time, e.id});
  }
}

// What the enrollment reported of its declarations and status items (with their filter entries).
void clear_statuses(State& state, const std::string& enrollment) {
  erase_prefix(state, ddm_prefix(keys::kDeclarationStatus, enrollment));
  StatusValues(state, enrollment).forget_under("");
}

}  // namespace

void clear_reported_state(State& state, const std::string& enrollment) {
  clear_statuses(state, enrollment);
  state.erase(ddm(keys::kDeclarativeEnrollment, enrollment));
}

void apply_declaration_stored(State& state, const events::Event& e,
                              const events::DeclarationStored& p) {
  if (auto old =
          store::load_record<DeclarationRecord>(state, ddm(keys::kDeclaration, p.identifier)))
    for (const auto& named : old->references)
      state.erase(ddm(keys::kReferrer, named, p.identifier));
  for (const auto& named : p.references) state.put(ddm(keys::kReferrer, named, p.identifier), "");
  state.put(ddm(keys::kDeclaration, p.identifier),
            store::encode_record(DeclarationRecord{p.identifier, p.declaration_type, p.server_token,
                                                   p.content, p.references, e.time, e.actor}));
}

void apply_declaration_deleted(State& state, const events::DeclarationDeleted& p) {
  const auto old =
      store::load_record<DeclarationRecord>(state, ddm(keys::kDeclaration, p.identifier));
  if (!old) return;
  for (const auto& named : old->references) state.erase(ddm(keys::kReferrer, named, p.identifier));
  // Out of every set too (the API refuses to delete one in a set; a log may still say so).
  std::vector<std::string> sets;
  state.scan(ddm_prefix(keys::kDeclarationSet, p.identifier), {},
             [&](std::string_view key, std::string_view) {
               sets.emplace_back(key.substr(key.rfind('/') + 1));
               return true;
             });
  for (const auto& set : sets) state.erase(ddm(keys::kSetDeclaration, set, p.identifier));
  erase_prefix(state, ddm_prefix(keys::kDeclarationSet, p.identifier));
  state.erase(ddm(keys::kDeclaration, p.identifier));
}

void apply_set_declaration(State& state, const events::SetDeclarationChanged& p) {
  set_membership(state, ddm(keys::kSetDeclaration, p.set, p.declaration),
                 ddm(keys::kDeclarationSet, p.declaration, p.set), p.member);
}

void apply_enrollment_set(State& state, const events::Event& e,
                          const events::EnrollmentSetChanged& p) {
  set_membership(state, ddm(keys::kEnrollmentSet, e.device, p.set),
                 ddm(keys::kSetEnrollment, p.set, e.device), p.member);
}

void apply_declarative_request(State& state, const events::Event& e,
                               const events::DeclarativeRequested& p) {
  auto r = touch_enrollment(state, e);
  if (p.endpoint == "tokens" || p.endpoint == "declaration-items")
    r.last_served_token = p.served_token;
  state.put(ddm(keys::kDeclarativeEnrollment, e.device), store::encode_record(r));
}

std::string status_report_json(std::string_view message_body) {
  const auto data = Plist::parse(message_body).data("Data");
  if (!data || data->empty()) throw BadRequest("a status report needs its Data");
  return *data;
}

bool nested_within(const rapidjson::Value& value, size_t most) {
  std::vector<std::pair<const rapidjson::Value*, size_t>> stack{{&value, 1}};
  while (!stack.empty()) {
    const auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > most) return false;
    if (v->IsObject())
      for (const auto& m : v->GetObject()) stack.emplace_back(&m.value, depth + 1);
    else if (v->IsArray())
      for (const auto& item : v->GetArray()) stack.emplace_back(&item, depth + 1);
  }
  return true;
}

StatusApplied apply_status_report(State& state, const events::Event& e, LogPosition position,
                                  const events::StatusReported& p) {
  rapidjson::Document report;
  try {
    const std::string body =
        p.message.encoding == "base64" ? base64_decode(p.message.body) : p.message.body;
    const std::string json = status_report_json(body);
    report.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  } catch (const std::exception&) {
    return StatusApplied::kUnreadable;
  }
  if (report.HasParseError() || !report.IsObject() || !nested_within(report, kDeepestStatusReport))
    return StatusApplied::kUnreadable;
  const rapidjson::Value& root = report;  // const iterators throughout
  const auto items = root.FindMember("StatusItems");
  if (items == root.MemberEnd() || !items->value.IsObject()) return StatusApplied::kUnreadable;

  auto enrollment = touch_enrollment(state, e);
  if (p.full_report) {  // the whole state: what it no longer reports is gone
    clear_statuses(state, e.device);
  }
  const auto management = items->value.FindMember("management");
  if (management != items->value.MemberEnd() && management->value.IsObject())
    if (const auto d = management->value.FindMember("declarations");
        d != management->value.MemberEnd())
      apply_declaration_statuses(state, e, d->value, enrollment);
  StatusValues values(state, e.device);
  apply_status_values(e, items->value, "", values, enrollment);

  const auto errors = root.FindMember("Errors");
  enrollment.errors_json =
      errors != root.MemberEnd() && errors->value.IsArray() && !errors->value.Empty()
          ? compact(errors->value)
          : std::string();
  enrollment.reports.insert(enrollment.reports.begin(),
                            {position.partition.value(), position.offset.value(), e.time, e.id});
  if (enrollment.reports.size() > kStatusReportsKept) enrollment.reports.resize(kStatusReportsKept);
  state.put(ddm(keys::kDeclarativeEnrollment, e.device), store::encode_record(enrollment));
  return StatusApplied::kApplied;
}

std::vector<std::string> DeclarativeReader::names(const std::string& prefix) const {
  std::vector<std::string> out;
  store_.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    out.emplace_back(key.substr(prefix.size()));
    return true;
  });
  return out;
}

std::optional<DeclarationRecord> DeclarativeReader::declaration(
    const std::string& identifier) const {
  return store::load_record<DeclarationRecord>(store_, ddm(keys::kDeclaration, identifier));
}

std::vector<std::string> DeclarativeReader::declarations() const {
  return names(std::string(keys::kDeclarationPrefix));
}

std::vector<std::string> DeclarativeReader::sets() const {
  std::vector<std::string> out;
  for (const auto& set_and_declaration : names(std::string(keys::kSetDeclarationPrefix))) {
    std::string set = set_and_declaration.substr(0, set_and_declaration.find('/'));
    if (out.empty() || out.back() != set) out.push_back(std::move(set));
  }
  return out;
}

std::vector<std::string> DeclarativeReader::set_declarations(const std::string& set) const {
  return names(ddm_prefix(keys::kSetDeclaration, set));
}

std::vector<std::string> DeclarativeReader::declaration_sets(const std::string& identifier) const {
  return names(ddm_prefix(keys::kDeclarationSet, identifier));
}

std::vector<std::string> DeclarativeReader::referrers(const std::string& identifier) const {
  return names(ddm_prefix(keys::kReferrer, identifier));
}

std::vector<std::string> DeclarativeReader::enrollment_sets(const std::string& enrollment) const {
  return names(ddm_prefix(keys::kEnrollmentSet, enrollment));
}

std::vector<std::string> DeclarativeReader::set_enrollments(const std::string& set) const {
  return names(ddm_prefix(keys::kSetEnrollment, set));
}

Manifest DeclarativeReader::manifest(const std::string& enrollment) const {
  return manifest_of_sets(enrollment_sets(enrollment));
}

Manifest DeclarativeReader::manifest_of_sets(const std::vector<std::string>& sets) const {
  std::map<std::string, DeclarationRecord> found;
  std::vector<std::string> to_visit;
  for (const auto& set : sets)
    for (auto& identifier : set_declarations(set)) to_visit.push_back(std::move(identifier));
  while (!to_visit.empty()) {
    const std::string identifier = std::move(to_visit.back());
    to_visit.pop_back();
    if (found.contains(identifier)) continue;
    auto d = declaration(identifier);
    if (!d) continue;  // named but not stored: the device reports it missing
    to_visit.insert(to_visit.end(), d->references.begin(), d->references.end());
    found.emplace(identifier, std::move(*d));
  }
  Manifest m;
  std::string tokens;
  for (auto& [identifier, d] : found) {
    tokens += identifier + "\n" + d.server_token + "\n";
    m.timestamp = std::max(m.timestamp, d.stored_at);
    m.declarations.push_back(std::move(d));
  }
  m.token = crypto::sha256_hex(tokens).substr(0, 32);
  // RFC 3339 to the second, as Apple's examples give it.
  m.timestamp = m.timestamp.empty() ? "1970-01-01T00:00:00Z" : m.timestamp.substr(0, 19) + "Z";
  return m;
}

std::optional<DeclarativeEnrollmentRecord> DeclarativeReader::enrollment(
    const std::string& enrollment) const {
  return store::load_record<DeclarativeEnrollmentRecord>(
      store_, ddm(keys::kDeclarativeEnrollment, enrollment));
}

std::vector<DeclarationStatusRecord> DeclarativeReader::statuses(
    const std::string& enrollment) const {
  std::vector<DeclarationStatusRecord> out;
  store_.scan(ddm_prefix(keys::kDeclarationStatus, enrollment), {},
              [&](std::string_view, std::string_view value) {
                out.push_back(store::decode_record<DeclarationStatusRecord>(value));
                return true;
              });
  return out;
}

std::vector<std::pair<std::string, StatusValueRecord>> DeclarativeReader::status_values(
    const std::string& enrollment, const std::string& prefix) const {
  std::vector<std::pair<std::string, StatusValueRecord>> out;
  const auto start = ddm_prefix(keys::kStatusValue, enrollment);
  store_.scan(start + prefix, {}, [&](std::string_view key, std::string_view value) {
    out.emplace_back(std::string(key.substr(start.size())),
                     store::decode_record<StatusValueRecord>(value));
    return true;
  });
  return out;
}

}  // namespace cairn::projector
