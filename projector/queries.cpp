#include "projector/queries.hpp"

#include <algorithm>

#include "projector/keys.hpp"
#include "protocol/messages.hpp"
#include "store/record_codec.hpp"

namespace cairn::projector {

std::optional<DeviceRecord> ProjectionReader::device(const DeviceId& udid) const {
  return store::load_record<DeviceRecord>(store_, keys::device(udid.value()));
}

std::vector<DeviceId> ProjectionReader::devices_for_certificate(
    const std::string& fingerprint) const {
  std::vector<DeviceId> out;
  const auto prefix = keys::certificate_prefix(fingerprint);
  store_.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    out.emplace_back(std::string(key.substr(prefix.size())));
    return true;
  });
  return out;
}

bool ProjectionReader::has_pending_identity(const DeviceId& udid,
                                            const std::string& fingerprint) const {
  const auto pending = pending_identities(udid);
  return std::find(pending.begin(), pending.end(), fingerprint) != pending.end();
}

std::vector<std::string> ProjectionReader::pending_identities(const DeviceId& udid) const {
  std::vector<std::string> out;
  const auto prefix = keys::pending_identity_prefix(udid.value());
  store_.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    out.emplace_back(key.substr(prefix.size()));
    return true;
  });
  return out;
}

std::vector<std::pair<std::string, InventoryRecord>> ProjectionReader::inventory(
    const DeviceId& udid) const {
  std::vector<std::pair<std::string, InventoryRecord>> out;
  const auto prefix = keys::inventory_prefix(udid.value());
  store_.scan(prefix, {}, [&](std::string_view key, std::string_view value) {
    out.emplace_back(std::string(key.substr(prefix.size())),
                     store::decode_record<InventoryRecord>(value));
    return true;
  });
  return out;
}

std::vector<DeviceId> ProjectionReader::devices_matching(const std::string& filter,
                                                         const std::string& value,
                                                         const std::string& after,
                                                         size_t limit) const {
  std::vector<DeviceId> out;
  const auto prefix = keys::inventory_index_prefix(filter, value);
  store_.scan(prefix, after.empty() ? std::string() : prefix + after + '\0',
              [&](std::string_view key, std::string_view) {
                out.emplace_back(std::string(key.substr(prefix.size())));
                return out.size() < limit;
              });
  return out;
}

bool ProjectionReader::device_matches(const DeviceId& udid, const std::string& filter,
                                      const std::string& value) const {
  return store_.get(keys::inventory_index(filter, value, udid.value())).has_value();
}

ProjectionReader::MatchPage ProjectionReader::devices_matching_all(
    const std::vector<std::pair<std::string, std::string>>& filters, const std::string& after,
    size_t limit, size_t budget) const {
  if (filters.empty()) return {};
  // Walk one filter's index (serial's when given: one device), check the others per device.
  auto walked = std::find_if(filters.begin(), filters.end(),
                             [](const auto& f) { return f.first == "serial"; });
  if (walked == filters.end()) walked = filters.begin();
  MatchPage page;
  std::string cursor = after;
  bool more = true;
  while (page.devices.size() < limit && more && budget > 0) {
    const auto candidates =
        devices_matching(walked->first, walked->second, cursor, std::min(limit, budget));
    more = candidates.size() == std::min(limit, budget);
    budget -= std::min(budget, candidates.size());
    for (const auto& udid : candidates) {
      cursor = udid.value();
      if (std::all_of(filters.begin(), filters.end(), [&](const auto& f) {
            return &f == &*walked || device_matches(udid, f.first, f.second);
          }))
        page.devices.push_back(udid);
      if (page.devices.size() == limit) break;
    }
  }
  if (page.devices.size() == limit || more) page.cursor = cursor;
  return page;
}

std::optional<CommandRecord> ProjectionReader::command(const DeviceId& udid,
                                                       const CommandUuid& uuid) const {
  return store::load_record<CommandRecord>(store_, keys::command(udid.value(), uuid.value()));
}

std::string ProjectionReader::queue_start(const DeviceId& udid) const {
  auto d = device(udid);
  return keys::queue_entry(udid.value(), d ? d->queue_floor : 0);
}

std::optional<std::string> ProjectionReader::unlock_token_sealed(const DeviceId& udid) const {
  return store_.get(keys::unlock_token(udid.value()));
}

std::optional<std::string> ProjectionReader::bootstrap_token_sealed(const DeviceId& udid) const {
  return store_.get(keys::bootstrap_token(udid.value()));
}

std::optional<QueuedCommand> ProjectionReader::next_command(const DeviceId& udid) const {
  const auto d = device(udid);
  if (!d) return std::nullopt;
  std::optional<QueuedCommand> found;
  store_.scan(keys::queue_prefix(udid.value()), keys::queue_entry(udid.value(), d->queue_floor),
              [&](std::string_view, std::string_view uuid) {
                auto cmd = command(udid, CommandUuid(std::string(uuid)));
                // The entry and the record are read separately: re-check it is still queued.
                if (!cmd || !is_queued(cmd->state)) return true;
                if (cmd->state == CommandState::kNotNow && cmd->not_now_sequence > d->session_start)
                  return true;  // refused in this session
                auto plist = store_.get(keys::command_body(udid.value(), cmd->command_uuid));
                if (!plist) return true;  // dequeued between the reads
                found = QueuedCommand{std::move(cmd->command_uuid), std::move(cmd->request_type),
                                      std::move(*plist)};
                return false;
              });
  return found;
}

std::vector<DeviceRecord> ProjectionReader::devices(const std::string& after, size_t limit) const {
  std::vector<DeviceRecord> out;
  const std::string start = after.empty() ? std::string() : keys::device(after) + '\0';
  store_.scan("d/", start, [&](std::string_view key, std::string_view value) {
    if (protocol::is_user_channel_id(key)) return true;  // a user channel, shown with its device
    out.push_back(store::decode_record<DeviceRecord>(value));
    return out.size() < limit;
  });
  return out;
}

std::vector<DeviceRecord> ProjectionReader::user_channels(const DeviceId& udid) const {
  std::vector<DeviceRecord> out;
  store_.scan(keys::user_channels_prefix(udid.value()), {},
              [&](std::string_view, std::string_view value) {
                out.push_back(store::decode_record<DeviceRecord>(value));
                return true;
              });
  return out;
}

std::vector<CommandRecord> ProjectionReader::queue(const DeviceId& udid) const {
  std::vector<CommandRecord> out;
  const auto start = queue_start(udid);
  store_.scan(keys::queue_prefix(udid.value()), start,
              [&](std::string_view, std::string_view uuid) {
                auto cmd = command(udid, CommandUuid(std::string(uuid)));
                if (cmd && is_queued(cmd->state)) out.push_back(std::move(*cmd));
                return true;
              });
  return out;
}

std::vector<CommandRecord> ProjectionReader::commands(const DeviceId& udid) const {
  std::vector<CommandRecord> out;
  store_.scan(keys::command_prefix(udid.value()), {}, [&](std::string_view, std::string_view v) {
    out.push_back(store::decode_record<CommandRecord>(v));
    return true;
  });
  return out;
}

std::vector<CommandRecord> ProjectionReader::command_targets(const CommandUuid& uuid) const {
  std::vector<CommandRecord> out;
  const auto prefix = keys::targets_prefix(uuid.value());
  store_.scan(prefix, {}, [&](std::string_view key, std::string_view) {
    const DeviceId udid(std::string(key.substr(prefix.size())));
    if (auto cmd = command(udid, uuid)) out.push_back(std::move(*cmd));
    return true;
  });
  return out;
}

ProjectionReader::CommandPage ProjectionReader::commands_in_state(std::string_view state,
                                                                  const std::string& after,
                                                                  size_t limit) const {
  CommandPage page;
  const auto prefix = keys::commands_by_state_prefix(state);
  const std::string start = after.empty() ? std::string() : prefix + after + '\0';
  std::string last;
  store_.scan(prefix, start, [&](std::string_view key, std::string_view) {
    // <enqueued at>/<udid>/<command uuid>: neither the time nor the ids hold a '/'.
    last = std::string(key.substr(prefix.size()));
    const auto uuid_at = last.rfind('/');
    const auto udid_at = last.rfind('/', uuid_at - 1);
    if (uuid_at == std::string::npos || udid_at == std::string::npos) return true;
    if (auto cmd = command(DeviceId(last.substr(udid_at + 1, uuid_at - udid_at - 1)),
                           CommandUuid(last.substr(uuid_at + 1))))
      page.commands.push_back(std::move(*cmd));
    return page.commands.size() < limit;
  });
  if (page.commands.size() == limit) page.cursor = last;
  return page;
}

std::vector<PushCertificateRecord> ProjectionReader::push_certificates() const {
  std::vector<PushCertificateRecord> out;
  store_.scan("k/", {}, [&](std::string_view, std::string_view v) {
    out.push_back(store::decode_record<PushCertificateRecord>(v));
    return true;
  });
  return out;
}

std::optional<ScepChallengeRecord> ProjectionReader::scep_challenge(
    const std::string& challenge_sha256) const {
  return store::load_record<ScepChallengeRecord>(store_, keys::scep_challenge(challenge_sha256));
}

std::optional<EnrollmentProfileRecord> ProjectionReader::enrollment_profile(
    const std::string& profile_uuid) const {
  return store::load_record<EnrollmentProfileRecord>(store_,
                                                     keys::enrollment_profile(profile_uuid));
}

std::optional<InvitationRecord> ProjectionReader::invitation(
    const std::string& token_sha256) const {
  return store::load_record<InvitationRecord>(store_, keys::invitation(token_sha256));
}

std::vector<IssuedIdentityRecord> ProjectionReader::identities_expiring(const std::string& from,
                                                                        const std::string& before,
                                                                        size_t limit) const {
  std::vector<IssuedIdentityRecord> out;
  const std::string end = keys::issued_identity(before, "");
  store_.scan(keys::kIssuedIdentityPrefix, keys::issued_identity(from, ""),
              [&](std::string_view key, std::string_view v) {
                if (key >= end || out.size() >= limit) return false;
                out.push_back(store::decode_record<IssuedIdentityRecord>(v));
                return true;
              });
  return out;
}

}  // namespace cairn::projector
