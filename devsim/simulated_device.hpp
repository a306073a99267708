// A simulated iPhone: the device side of the MDM protocol, with state that stays consistent
// across commands (profiles installed and removed, provisioning profiles, managed apps, passcode,
// lock) and a realistic answer to every request type in Apple's 2011 MDM reference. Unknown
// request types get CommandFormatError, as a real device answers. Knows nothing of HTTP.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pki/issuer.hpp"
#include "plist/plist.hpp"

namespace cairn::devsim {

class SimulatedDevice {
 public:
  // kUser: a User Enrollment (a personal device): `udid` is its EnrollmentID, sent where a
  // device sends its UDID; no SerialNumber, no UnlockToken.
  enum class Enrollment { kDevice, kUser };
  SimulatedDevice(std::string udid, pki::Identity identity, std::string topic, uint64_t seed,
                  Enrollment enrollment = Enrollment::kDevice);
  // The user channel of a user logged in on the Mac `device`: the device's identity, a push token
  // and state of its own; its messages name the device and the user's UserID.
  static SimulatedDevice mac_user(const SimulatedDevice& device, std::string user_id,
                                  uint64_t seed);

  const std::string& udid() const { return udid_; }
  // What the server names this channel by: the UDID (EnrollmentID), or "<UDID>:<UserID>".
  std::string channel_id() const;
  bool is_user_channel() const { return !user_id_.empty(); }
  Enrollment enrollment() const { return enrollment_; }
  const pki::Identity& identity() const { return identity_; }
  const std::string& unlock_token() const { return unlock_token_; }
  // The push token in hex, as APNs addresses pushes to it (POST /3/device/<hex>).
  std::string push_token_hex() const;

  // Check-in messages (XML plists).
  std::string authenticate() const;
  std::string token_update() const;  // 32-byte token, PushMagic, ~2 KB UnlockToken
  std::string checkout() const;
  std::string idle() const;
  // A user channel's first message: UserAuthenticate, without a DigestResponse.
  std::string user_authenticate() const;

  // Automated Device Enrollment. At first boot the device is one Apple Business Manager knows by
  // `serial`; it sends its MachineInfo (signed by a device identity, devsim/ade_first_boot), gets
  // its identity through the enrollment profile (adopt_identity), and waits in Setup Assistant
  // (its TokenUpdates say AwaitingConfiguration) until DeviceConfigured.
  void begin_automated_enrollment(std::string serial);
  std::string machine_info() const;  // the MachineInfo plist (UDID, SERIAL, PRODUCT, ...)
  void adopt_identity(pki::Identity identity) { identity_ = std::move(identity); }
  bool awaiting_configuration() const { return awaiting_configuration_; }

  // Performs a command the server sent and returns the result message. While locked (Data
  // Protection), commands the reference does not guarantee answer NotNow and change nothing.
  std::string execute(std::string_view command_plist);

  // Declarative device management. A DeclarativeManagement command asks for a sync; the sync
  // itself (tokens, declaration items, each new or changed declaration, a status report) is
  // devsim/declarative_sync's, over HTTP, with these steps.
  std::string declarative_management(std::string_view endpoint, std::string_view data = {}) const;
  bool take_sync_request();  // whether a DeclarativeManagement command asked for one since
  const std::string& declarations_token() const { return declarations_token_; }
  // From the declaration-items answer: the endpoints of the declarations to fetch (new or
  // changed); those no longer listed are removed.
  std::vector<std::string> declarations_to_fetch(std::string_view items_json);
  // A fetched declaration: held and applied (a passcode policy changes compliance, a software
  // update enforcement the pending version); one it cannot apply is held as invalid.
  void receive_declaration(std::string_view json);
  std::string status_report() const;  // JSON: status items and each declaration's state
  bool passcode_compliant() const;

  void set_locked(bool locked) { locked_ = locked; }
  bool locked() const { return locked_; }
  bool erased() const { return erased_; }
  bool passcode_present() const { return passcode_present_; }
  void set_passcode_present(bool present) { passcode_present_ = present; }  // the user's doing
  std::set<std::string> profile_identifiers() const;

 private:
  Plist checkin_message(std::string_view type) const;  // MessageType, Topic, the channel
  // Names the channel in a message: UDID (EnrollmentID), and a user channel's UserID and names.
  void name_channel(plist_t message) const;

  // One handler per request type (execute() picks it): changes the state, fills the answer.
  class Answer;
  void profile_list(plist_t command, Answer& answer);
  void install_profile(plist_t command, Answer& answer);
  void remove_profile(plist_t command, Answer& answer);
  void provisioning_profile_list(plist_t command, Answer& answer);
  void install_provisioning_profile(plist_t command, Answer& answer);
  void remove_provisioning_profile(plist_t command, Answer& answer);
  void certificate_list(plist_t command, Answer& answer);
  void installed_application_list(plist_t command, Answer& answer);
  void device_information(plist_t command, Answer& answer);
  void security_info(plist_t command, Answer& answer);
  void device_lock(plist_t command, Answer& answer);
  void clear_passcode(plist_t command, Answer& answer);
  void erase_device(plist_t command, Answer& answer);
  void restrictions(plist_t command, Answer& answer);
  void install_application(plist_t command, Answer& answer);
  void apply_redemption_code(plist_t command, Answer& answer);
  void managed_application_list(plist_t command, Answer& answer);
  void remove_application(plist_t command, Answer& answer);
  void settings(plist_t command, Answer& answer);
  void declarative_management_command(plist_t command, Answer& answer);
  void device_configured(plist_t command, Answer& answer);

  struct Profile {
    std::string uuid;
    std::string display_name;
    bool managed = true;  // installed through MDM (only these may be removed by MDM)
  };
  struct App {
    std::string identifier;
    std::string name;
    std::string version;
    int64_t flags = 0;
    bool needs_redemption = false;
  };

  std::string udid_;
  pki::Identity identity_;
  std::string topic_;
  Enrollment enrollment_;
  std::string user_id_;  // a user channel's UserID; empty for the device channel
  std::string token_;
  std::string push_magic_;
  std::string unlock_token_;
  std::string serial_;
  std::mt19937_64 rng_;
  bool locked_ = false;
  bool erased_ = false;
  bool awaiting_configuration_ = false;
  bool passcode_present_ = true;
  std::map<std::string, Profile> profiles_;                   // by PayloadIdentifier
  std::map<std::string, std::string> provisioning_profiles_;  // UUID → name
  std::map<std::string, App> managed_apps_;                   // by bundle identifier

  struct HeldDeclaration {
    std::string type;
    std::string server_token;
    std::string payload_json;    // as received
    std::string invalid_reason;  // empty: valid
  };
  std::map<std::string, HeldDeclaration> declarations_;  // by Identifier
  std::string declarations_token_;
  bool sync_requested_ = false;
};

// The request types the 2011 reference guarantees never to answer NotNow.
bool never_not_now(std::string_view request_type);

}  // namespace cairn::devsim
