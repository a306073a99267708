// Read access to the projection: what ingest needs to answer devices and what the admin API
// shows. An interface, so the service layer does not depend on RocksDB (and tests can make reads
// fail to prove a failing store is a 5xx, never a 401).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/strong_types.hpp"
#include "projector/records.hpp"
#include "projector/store.hpp"

namespace cairn::projector {

// What to send a device next.
struct QueuedCommand {
  std::string command_uuid;
  std::string plist;
};

class ProjectionReader {
 public:
  virtual ~ProjectionReader() = default;
  virtual std::optional<DeviceRecord> device(const DeviceId& udid) const = 0;
  // The devices bound to a certificate: one, or none. More than one only if devices claimed it at
  // the same moment on different nodes; ingest then refuses it to all but those already bound.
  virtual std::vector<DeviceId> devices_for_certificate(const std::string& fingerprint) const = 0;
  // Identities bound to the device that it has not used yet (IdentityBound), by fingerprint.
  virtual std::vector<std::string> pending_identities(const DeviceId& udid) const = 0;
  bool has_pending_identity(const DeviceId& udid, const std::string& fingerprint) const;
  // The device's inventory (projector/inventory), by field name.
  virtual std::vector<std::pair<std::string, InventoryRecord>> inventory(
      const DeviceId& udid) const = 0;
  // Devices whose inventory matches `filter` = `value`, in UDID order after `after`.
  virtual std::vector<DeviceId> devices_matching(const std::string& filter,
                                                 const std::string& value, const std::string& after,
                                                 size_t limit) const = 0;
  virtual bool device_matches(const DeviceId& udid, const std::string& filter,
                              const std::string& value) const = 0;
  // The first queued command in FIFO order, passing over commands the device answered NotNow
  // to in its current session (since its latest Idle poll): those wait for its next session.
  virtual std::optional<QueuedCommand> next_command(const DeviceId& udid) const = 0;
  // The device's escrowed UnlockToken, still sealed; nullopt if it sent none.
  virtual std::optional<std::string> unlock_token_sealed(const DeviceId& udid) const = 0;
  virtual std::optional<CommandRecord> command(const DeviceId& udid,
                                               const CommandUuid& uuid) const = 0;
  // Devices in UDID order, starting after `after` (exclusive; empty for the first page).
  virtual std::vector<DeviceRecord> devices(const std::string& after, size_t limit) const = 0;
  virtual std::vector<CommandRecord> queue(const DeviceId& udid) const = 0;     // FIFO order
  virtual std::vector<CommandRecord> commands(const DeviceId& udid) const = 0;  // all, by UUID
  virtual std::vector<CommandRecord> command_targets(const CommandUuid& uuid) const = 0;
  virtual std::vector<PushCertificateRecord> push_certificates() const = 0;  // by topic
  virtual std::optional<InvitationRecord> invitation(const std::string& token_sha256) const = 0;
  virtual std::optional<EnrollmentProfileRecord> enrollment_profile(
      const std::string& profile_uuid) const = 0;
  virtual std::optional<ScepChallengeRecord> scep_challenge(
      const std::string& challenge_sha256) const = 0;
  // Identities Cairn issued that expire in [from, before) (RFC 3339), soonest first, at most
  // `limit`.
  virtual std::vector<IssuedIdentityRecord> identities_expiring(const std::string& from,
                                                                const std::string& before,
                                                                size_t limit) const = 0;
};

class StoreReader final : public ProjectionReader {
 public:
  explicit StoreReader(const Store& store) : store_(store) {}
  std::optional<DeviceRecord> device(const DeviceId& udid) const override;
  std::vector<DeviceId> devices_for_certificate(const std::string& fingerprint) const override;
  std::vector<std::string> pending_identities(const DeviceId& udid) const override;
  std::vector<std::pair<std::string, InventoryRecord>> inventory(
      const DeviceId& udid) const override;
  std::vector<DeviceId> devices_matching(const std::string& filter, const std::string& value,
                                         const std::string& after, size_t limit) const override;
  bool device_matches(const DeviceId& udid, const std::string& filter,
                      const std::string& value) const override;
  std::optional<QueuedCommand> next_command(const DeviceId& udid) const override;
  std::optional<std::string> unlock_token_sealed(const DeviceId& udid) const override;
  std::optional<CommandRecord> command(const DeviceId& udid,
                                       const CommandUuid& uuid) const override;
  std::vector<DeviceRecord> devices(const std::string& after, size_t limit) const override;
  std::vector<CommandRecord> queue(const DeviceId& udid) const override;
  std::vector<CommandRecord> commands(const DeviceId& udid) const override;
  std::vector<CommandRecord> command_targets(const CommandUuid& uuid) const override;
  std::vector<PushCertificateRecord> push_certificates() const override;
  std::optional<InvitationRecord> invitation(const std::string& token_sha256) const override;
  std::optional<EnrollmentProfileRecord> enrollment_profile(
      const std::string& profile_uuid) const override;
  std::optional<ScepChallengeRecord> scep_challenge(
      const std::string& challenge_sha256) const override;
  std::vector<IssuedIdentityRecord> identities_expiring(const std::string& from,
                                                        const std::string& before,
                                                        size_t limit) const override;

 private:
  std::string queue_start(const DeviceId& udid) const;  // the key at the device's queue floor
  const Store& store_;
};

}  // namespace cairn::projector
