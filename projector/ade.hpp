// Automated Device Enrollment in the projection: the ADE server tokens and where each one's sync
// stands, the ADE profiles (Cairn's, by name, and their UUIDs at Apple per token), and the devices
// Apple Business Manager assigned to Cairn, by serial number, before and after they enroll. Key
// layout: projector/keys.hpp. Every ADE event is device-less (one partition, in log order).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projector/records.hpp"
#include "projector/state.hpp"
#include "schemas/events.hpp"
#include "store/reader.hpp"

namespace cairn::projector {

// A key of Cairn's own in a stored ADE profile, left out of what Apple is sent: "manual" keeps a
// device that awaits configuration in Setup Assistant until an administrator sends
// DeviceConfigured; "automatic" (the default) has Cairn queue it as soon as the device enrolls.
inline constexpr std::string_view kAdeReleaseKey = "cairn_release";

// Names of tokens and profiles: [A-Za-z0-9._-]{1,64}. Serial numbers: [A-Za-z0-9]{1,64}.
bool is_ade_name(std::string_view name);
bool is_serial_number(std::string_view serial);

void apply_ade(State& state, const events::Event& e, const events::AdeTokenCertificateCreated& p);
void apply_ade(State& state, const events::Event& e, const events::AdeTokenStored& p);
void apply_ade(State& state, const events::Event& e, const events::AdeDevicesSynced& p);
void apply_ade(State& state, const events::Event& e, const events::AdeSyncFailed& p);
void apply_ade(State& state, const events::Event& e, const events::AdeProfileStored& p);
void apply_ade(State& state, const events::Event& e, const events::AdeProfileDefined& p);
void apply_ade(State& state, const events::Event& e, const events::AdeAssignmentSet& p);
void apply_ade(State& state, const events::Event& e, const events::AdeProfileAssigned& p);
void apply_ade(State& state, const events::Event& e, const events::AdeEnrollmentRequested& p);
void apply_ade(State& state, const events::Event& e, const events::AdeDevicesHeld& p);
void apply_ade(State& state, const events::Event& e, const events::AdeProfileRemoved& p);

// The cursor the token's next call starts from: "" for a fetch from the start. The syncer calls
// from there; a page or failure recorded from anywhere else is another syncer's and changes
// nothing.
std::string where_it_stands(const AdeTokenRecord& t);

class AdeReader {
 public:
  explicit AdeReader(const store::Reader& store) : store_(store) {}
  std::optional<AdeTokenRecord> token(const std::string& name) const;
  std::vector<AdeTokenRecord> tokens() const;  // by name
  std::optional<AdeProfileRecord> profile(const std::string& name) const;
  std::vector<AdeProfileRecord> profiles() const;  // by name
  std::optional<AdeDefinedProfileRecord> defined_profile(const std::string& token,
                                                         const std::string& profile) const;
  std::optional<AdeDeviceRecord> device(const std::string& serial) const;
  // Devices by serial number after `after`, at most `limit`.
  std::vector<AdeDeviceRecord> devices(const std::string& after, size_t limit) const;
  // Whether the device of this serial number is to wait in Setup Assistant for an administrator's
  // DeviceConfigured (its assigned profile says cairn_release "manual").
  bool released_manually(const std::string& serial) const;
  // The token's devices without a profile at Apple, by serial number, at most `limit`.
  std::vector<AdeDeviceRecord> waiting(const std::string& token, size_t limit) const;
  // The token's held devices whose profile is still at Apple, at most `limit`.
  std::vector<AdeDeviceRecord> removals(const std::string& token, size_t limit) const;

 private:
  std::vector<AdeDeviceRecord> listed(const std::string& prefix, size_t limit) const;
  const store::Reader& store_;
};

}  // namespace cairn::projector
