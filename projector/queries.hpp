// Read access to the projection: what ingest needs to answer devices and what the admin API
// shows. Queries over any store::Reader, so the service layer does not depend on RocksDB, and a
// test makes reads fail with a two-method Reader (a failing store is a 5xx, never a 401).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/strong_types.hpp"
#include "projector/records.hpp"
#include "store/reader.hpp"

namespace cairn::projector {

// What to send a device next.
struct QueuedCommand {
  std::string command_uuid;
  std::string request_type;
  std::string plist;
};

class ProjectionReader {
 public:
  explicit ProjectionReader(const store::Reader& store) : store_(store) {}
  const store::Reader& store() const { return store_; }  // for the other readers of the projection
  std::optional<DeviceRecord> device(const DeviceId& udid) const;
  // The devices bound to a certificate: one, or none. More than one only if devices claimed it at
  // the same moment on different nodes; ingest then refuses it to all but those already bound.
  std::vector<DeviceId> devices_for_certificate(const std::string& fingerprint) const;
  // Identities bound to the device that it has not used yet (IdentityBound), by fingerprint.
  std::vector<std::string> pending_identities(const DeviceId& udid) const;
  bool has_pending_identity(const DeviceId& udid, const std::string& fingerprint) const;
  // The device's inventory (projector/inventory), by field name.
  std::vector<std::pair<std::string, InventoryRecord>> inventory(const DeviceId& udid) const;
  // Devices whose inventory matches `filter` = `value`, in UDID order after `after`.
  std::vector<DeviceId> devices_matching(const std::string& filter, const std::string& value,
                                         const std::string& after, size_t limit) const;
  bool device_matches(const DeviceId& udid, const std::string& filter,
                      const std::string& value) const;
  // Devices matching every filter (filter, value), in UDID order after `after`: at most `limit`,
  // examining at most `budget` candidates, so a rarely matching combination answers a short page
  // rather than walking the whole fleet. `cursor` is where the next page starts, "" at the end.
  // No filters match nothing (the whole fleet is devices()).
  struct MatchPage {
    std::vector<DeviceId> devices;
    std::string cursor;
  };
  MatchPage devices_matching_all(const std::vector<std::pair<std::string, std::string>>& filters,
                                 const std::string& after, size_t limit, size_t budget) const;
  // The first queued command in FIFO order, passing over commands the device answered NotNow
  // to in its current session (since its latest Idle poll): those wait for its next session.
  std::optional<QueuedCommand> next_command(const DeviceId& udid) const;
  // The device's escrowed UnlockToken, still sealed; nullopt if it sent none.
  std::optional<std::string> unlock_token_sealed(const DeviceId& udid) const;
  // The device's escrowed bootstrap token (SetBootstrapToken), still sealed.
  std::optional<std::string> bootstrap_token_sealed(const DeviceId& udid) const;
  std::optional<CommandRecord> command(const DeviceId& udid, const CommandUuid& uuid) const;
  // Devices in UDID order, starting after `after` (exclusive; empty for the first page); their
  // user channels are not among them.
  std::vector<DeviceRecord> devices(const std::string& after, size_t limit) const;
  // The device's user channels ("<udid>:<user>"), by ID.
  std::vector<DeviceRecord> user_channels(const DeviceId& udid) const;
  std::vector<CommandRecord> queue(const DeviceId& udid) const;     // FIFO order
  std::vector<CommandRecord> commands(const DeviceId& udid) const;  // all, by UUID
  std::vector<CommandRecord> command_targets(const CommandUuid& uuid) const;
  // Commands in `state` (command_state_name) across the fleet, oldest enqueued first, starting
  // after `after` (the previous page's cursor; empty for the first). `cursor` is "" at the end.
  struct CommandPage {
    std::vector<CommandRecord> commands;
    std::string cursor;
  };
  CommandPage commands_in_state(std::string_view state, const std::string& after,
                                size_t limit) const;
  std::vector<PushCertificateRecord> push_certificates() const;  // by topic
  std::optional<InvitationRecord> invitation(const std::string& token_sha256) const;
  std::optional<EnrollmentProfileRecord> enrollment_profile(const std::string& profile_uuid) const;
  std::optional<ScepChallengeRecord> scep_challenge(const std::string& challenge_sha256) const;
  // Identities Cairn issued that expire in [from, before) (RFC 3339), soonest first, at most
  // `limit`.
  std::vector<IssuedIdentityRecord> identities_expiring(const std::string& from,
                                                        const std::string& before,
                                                        size_t limit) const;

 private:
  std::string queue_start(const DeviceId& udid) const;  // the key at the device's queue floor
  const store::Reader& store_;
};

}  // namespace cairn::projector
