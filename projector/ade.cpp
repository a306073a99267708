#include "projector/ade.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "projector/keys.hpp"
#include "store/record_codec.hpp"

namespace cairn::projector {
namespace {

template <class Record>
void save(State& state, std::string key, const Record& record) {
  state.put(std::move(key), store::encode_record(record));
}

// The token's record, new if the name is not known yet.
AdeTokenRecord token_record(State& state, const std::string& token) {
  auto record = store::load_record<AdeTokenRecord>(state, keys::ade_token(token));
  if (record) return *record;
  AdeTokenRecord fresh;
  fresh.token = token;
  return fresh;
}

void clear_failure(AdeTokenRecord& t) {
  t.failure_outcome.clear();
  t.failure_call.clear();
  t.failure_reason.clear();
  t.failure_status = 0;
  t.failed_at.clear();
}

bool has_no_profile(const AdeDeviceRecord& d) {
  return d.profile_uuid.empty() || d.profile_status == "empty" || d.profile_status == "removed";
}

}  // namespace

std::string where_it_stands(const AdeTokenRecord& t) {
  return t.phase.empty() ? "" : t.cursor;
}

namespace {

// Apple refused the device's last assignment or removal: not asked again until ABM says something
// changed (a sync lists it) or an administrator holds or releases it.
bool refused(const AdeDeviceRecord& d) {
  return d.assign_status == "NOT_ACCESSIBLE" || d.assign_status == "FAILED";
}

// The syncer's work lists, from the device's state alone (so any order of events leaves them
// right): devices to give a profile (no profile, not held), and held devices whose profile is
// still at Apple.
void index_waiting(State& state, const AdeDeviceRecord& d) {
  const bool workable = !d.deleted && !refused(d);
  const auto waiting = keys::ade_waiting(d.token, d.serial_number);
  if (workable && !d.held && has_no_profile(d))
    state.put(waiting, "");
  else
    state.erase(waiting);
  const auto removal = keys::ade_removal(d.token, d.serial_number);
  if (workable && d.held && !has_no_profile(d))
    state.put(removal, "");
  else
    state.erase(removal);
}

void release_unseen(State& state, const AdeTokenRecord& t, const std::string& time) {
  std::vector<std::string> unseen;
  state.scan(keys::ade_member_prefix(t.token), "", [&](std::string_view key, std::string_view) {
    unseen.emplace_back(key.substr(keys::ade_member_prefix(t.token).size()));
    return true;
  });
  for (const auto& serial : unseen) {
    auto d = store::load_record<AdeDeviceRecord>(state, keys::ade_device(serial));
    if (!d || d->deleted || d->seen_in_fetch == t.fetch_generation) continue;
    d->deleted = true;
    d->last_synced_at = time;
    state.erase(keys::ade_waiting(t.token, serial));
    save(state, keys::ade_device(serial), *d);
  }
}

}  // namespace

bool is_ade_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool is_serial_number(std::string_view serial) {
  return !serial.empty() && serial.size() <= 64 &&
         std::all_of(serial.begin(), serial.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

void apply_ade(State& state, const events::Event&, const events::AdeTokenCertificateCreated& p) {
  auto t = token_record(state, p.token);
  t.certificate_pem = p.certificate_pem;
  t.private_key_sealed = p.private_key_sealed;
  t.certificate_not_after = p.not_after;
  save(state, keys::ade_token(p.token), t);
}

void apply_ade(State& state, const events::Event& e, const events::AdeTokenStored& p) {
  auto t = token_record(state, p.token);
  t.credentials_sealed = p.credentials_sealed;
  t.access_token_expiry = p.access_token_expiry;
  t.stored_at = e.time;
  t.stored_by = e.actor;
  // A new token ends a stop (a revoked token, terms not accepted); the cursor stays: it is the
  // MDM server's, which the new token usually is too (Apple answers INVALID_CURSOR otherwise).
  clear_failure(t);
  save(state, keys::ade_token(p.token), t);
}

void apply_ade(State& state, const events::Event& e, const events::AdeDevicesSynced& p) {
  auto t = token_record(state, p.token);
  // A page from where the token no longer stands: another syncer's, for a moment (Kafka, a
  // rebalance), or from before the cursor was reset. The newer chain of pages wins.
  if (p.from_cursor != where_it_stands(t)) return;
  const bool fetch = p.phase == "fetch";
  if (fetch && p.from_cursor.empty() && !p.continues) ++t.fetch_generation;  // a full fetch begins
  t.phase = fetch && p.more_to_follow ? "fetch" : "sync";
  if (!p.cursor.empty()) t.cursor = p.cursor;
  t.last_synced_at = e.time;
  ++t.pages;
  clear_failure(t);
  for (const auto& in : p.devices) {
    if (!is_serial_number(in.serial_number)) continue;  // checked when read; a hand-edited log
    const auto key = keys::ade_device(in.serial_number);
    auto d = store::load_record<AdeDeviceRecord>(state, key).value_or(AdeDeviceRecord{});
    // A record may come again in a later page with an older op_date: the newest wins. (A fetch
    // listing it still counts as seeing it, when it is this token's.)
    if (!d.op_date.empty() && !in.op_date.empty() && in.op_date < d.op_date) {
      if (fetch && d.token == p.token) {
        d.seen_in_fetch = t.fetch_generation;
        save(state, key, d);
      }
      continue;
    }
    if (fetch) d.seen_in_fetch = t.fetch_generation;
    if (refused(d)) d.assign_status.clear();       // listed again: worth asking Apple again
    if (!d.token.empty() && d.token != p.token) {  // moved to another MDM server in ABM
      state.erase(keys::ade_waiting(d.token, d.serial_number));
      state.erase(keys::ade_member(d.token, d.serial_number));
    }
    if (d.first_synced_at.empty()) d.first_synced_at = e.time;
    d.serial_number = in.serial_number;
    d.token = p.token;
    d.last_synced_at = e.time;
    d.op_date = in.op_date;
    d.deleted = in.op_type == "deleted";
    if (!d.deleted) {
      d.model = in.model;
      d.description = in.description;
      d.color = in.color;
      d.asset_tag = in.asset_tag;
      d.os = in.os;
      d.device_family = in.device_family;
      d.profile_status = in.profile_status;
      d.profile_uuid = in.profile_uuid;
      d.profile_assign_time = in.profile_assign_time;
      d.profile_push_time = in.profile_push_time;
      d.device_assigned_date = in.device_assigned_date;
      d.device_assigned_by = in.device_assigned_by;
    }
    state.put(keys::ade_member(d.token, d.serial_number), "");
    index_waiting(state, d);
    save(state, key, d);
  }
  // A full fetch lists every device the MDM server has: one it did not list was released in ABM
  // (while a cursor had expired, say, so no sync said so).
  if (fetch && !p.more_to_follow) release_unseen(state, t, e.time);
  save(state, keys::ade_token(p.token), t);
}

void apply_ade(State& state, const events::Event& e, const events::AdeSyncFailed& p) {
  auto t = token_record(state, p.token);
  t.failure_outcome = p.outcome;
  t.failure_call = p.call;
  t.failure_reason = p.reason;
  t.failure_status = p.http_status;
  t.failed_at = e.time;
  // A cursor outcome counts only from where the token stands (not a second syncer's, from
  // elsewhere).
  const bool from_here = p.from_cursor == where_it_stands(t);
  if (from_here && p.outcome == "refetch") {
    t.phase.clear();
    t.cursor.clear();
  } else if (from_here && p.outcome == "sync") {
    t.phase = "sync";
  }
  save(state, keys::ade_token(p.token), t);
}

void apply_ade(State& state, const events::Event& e, const events::AdeProfileStored& p) {
  save(state, keys::ade_profile(p.profile),
       AdeProfileRecord{p.profile, p.content, e.time, e.actor});
}

void apply_ade(State& state, const events::Event& e, const events::AdeProfileDefined& p) {
  save(state, keys::ade_defined_profile(p.token, p.profile),
       AdeDefinedProfileRecord{p.profile_uuid, p.content_sha256, e.time});
}

void apply_ade(State& state, const events::Event&, const events::AdeAssignmentSet& p) {
  auto t = token_record(state, p.token);
  t.default_profile = p.default_profile;
  t.rules = p.rules;
  save(state, keys::ade_token(p.token), t);
}

void apply_ade(State& state, const events::Event& e, const events::AdeProfileAssigned& p) {
  for (const auto& outcome : p.devices) {
    if (!is_serial_number(outcome.serial_number)) continue;
    const auto key = keys::ade_device(outcome.serial_number);
    auto d = store::load_record<AdeDeviceRecord>(state, key);
    if (!d) continue;
    d->assigned_profile = p.profile;
    d->assign_status = outcome.status;
    d->assigned_at = e.time;
    if (outcome.status == "SUCCESS") {
      d->profile_uuid = p.profile_uuid;
      d->profile_status = "assigned";
      d->profile_assign_time = e.time;
    }
    index_waiting(state, *d);  // throttled: tried again; refused: not until something changes
    save(state, key, *d);
  }
}

void apply_ade(State& state, const events::Event&, const events::AdeDevicesHeld& p) {
  for (const auto& serial : p.serial_numbers) {
    const auto key = keys::ade_device(serial);
    auto d = store::load_record<AdeDeviceRecord>(state, key);
    if (!d) continue;
    d->held = p.held;
    d->assign_status.clear();  // an administrator's act: Apple is asked again
    // Released from a hold: the device may enroll with another device identity than before (a
    // replaced logic board), which an administrator vouches for this way.
    if (!p.held) d->enrollment_signer.clear();
    index_waiting(state, *d);
    save(state, key, *d);
  }
}

void apply_ade(State& state, const events::Event& e, const events::AdeProfileRemoved& p) {
  for (const auto& outcome : p.devices) {
    const auto key = keys::ade_device(outcome.serial_number);
    auto d = store::load_record<AdeDeviceRecord>(state, key);
    if (!d) continue;
    d->assign_status = outcome.status;
    d->assigned_at = e.time;
    if (outcome.status == "SUCCESS") {
      d->profile_uuid.clear();
      d->profile_status = "removed";
      d->assigned_profile.clear();
    }
    index_waiting(state, *d);
    save(state, key, *d);
  }
}

void apply_ade(State& state, const events::Event& e, const events::AdeEnrollmentRequested& p) {
  const auto key = keys::ade_device(p.serial_number);
  auto d = store::load_record<AdeDeviceRecord>(state, key);
  if (!d) return;
  d->enrollment_requested_at = e.time;
  // The first device identity to enroll the serial number is its own from then on.
  if (d->enrollment_signer.empty()) d->enrollment_signer = p.signer_fingerprint;
  if (p.udid_bound) {
    d->enrollment_udid = p.udid;
    d->enrollment_profile = p.enrollment_profile;
    d->enrolled_with_profile = p.profile;
  }
  save(state, key, *d);
}

namespace {

template <class Record>
std::vector<Record> read_all(const store::Reader& store, std::string_view prefix,
                             const std::string& start, size_t limit) {
  std::vector<Record> out;
  store.scan(prefix, start, [&](std::string_view key, std::string_view value) {
    if (key == start) return true;  // `after` is exclusive
    out.push_back(store::decode_record<Record>(value));
    return out.size() < limit;
  });
  return out;
}

}  // namespace

std::optional<AdeTokenRecord> AdeReader::token(const std::string& name) const {
  return store::load_record<AdeTokenRecord>(store_, keys::ade_token(name));
}

std::vector<AdeTokenRecord> AdeReader::tokens() const {
  return read_all<AdeTokenRecord>(store_, keys::kAdeTokenPrefix, "", SIZE_MAX);
}

std::optional<AdeProfileRecord> AdeReader::profile(const std::string& name) const {
  return store::load_record<AdeProfileRecord>(store_, keys::ade_profile(name));
}

std::vector<AdeProfileRecord> AdeReader::profiles() const {
  return read_all<AdeProfileRecord>(store_, keys::kAdeProfilePrefix, "", SIZE_MAX);
}

std::optional<AdeDefinedProfileRecord> AdeReader::defined_profile(
    const std::string& token, const std::string& profile) const {
  return store::load_record<AdeDefinedProfileRecord>(store_,
                                                     keys::ade_defined_profile(token, profile));
}

std::optional<AdeDeviceRecord> AdeReader::device(const std::string& serial) const {
  return store::load_record<AdeDeviceRecord>(store_, keys::ade_device(serial));
}

std::vector<AdeDeviceRecord> AdeReader::devices(const std::string& after, size_t limit) const {
  return read_all<AdeDeviceRecord>(store_, keys::kAdeDevicePrefix,
                                   after.empty() ? "" : keys::ade_device(after), limit);
}

bool AdeReader::released_manually(const std::string& serial) const {
  const auto d = device(serial);
  if (!d) return false;
  const auto& name =
      d->enrolled_with_profile.empty() ? d->assigned_profile : d->enrolled_with_profile;
  if (name.empty()) return false;
  const auto p = profile(name);
  if (!p) return false;
  rapidjson::Document content;
  content.Parse(p->content.c_str(), p->content.size());
  const rapidjson::Value& root = content;
  if (content.HasParseError() || !root.IsObject()) return false;
  const auto release = root.FindMember(std::string(kAdeReleaseKey).c_str());
  return release != root.MemberEnd() && release->value.IsString() &&
         std::string_view(release->value.GetString()) == "manual";
}

std::vector<AdeDeviceRecord> AdeReader::listed(const std::string& prefix, size_t limit) const {
  std::vector<AdeDeviceRecord> out;
  store_.scan(prefix, "", [&](std::string_view key, std::string_view) {
    if (auto d = device(std::string(key.substr(prefix.size())))) out.push_back(std::move(*d));
    return out.size() < limit;
  });
  return out;
}

std::vector<AdeDeviceRecord> AdeReader::waiting(const std::string& token, size_t limit) const {
  return listed(keys::ade_waiting_prefix(token), limit);
}

std::vector<AdeDeviceRecord> AdeReader::removals(const std::string& token, size_t limit) const {
  return listed(keys::ade_removal_prefix(token), limit);
}

}  // namespace cairn::projector
