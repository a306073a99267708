// Apple's MDM protocol messages as Cairn understands them, decoded from plists. This layer knows
// nothing of HTTP, the log or storage.
//
// Check-in channel (Content-Type application/x-apple-aspen-mdm-checkin): Authenticate,
// TokenUpdate, CheckOut, SetBootstrapToken, GetBootstrapToken. Command channel
// (application/x-apple-aspen-mdm): a report with a Status (Idle, or the result of the command named
// by CommandUUID), answered with the next command.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/errors.hpp"
#include "common/strong_types.hpp"
#include "plist/plist.hpp"

namespace cairn::protocol {

inline constexpr std::string_view kCheckinContentType = "application/x-apple-aspen-mdm-checkin";
inline constexpr std::string_view kCommandContentType = "application/x-apple-aspen-mdm";

struct Authenticate {
  DeviceId udid;
  std::string topic;
  std::string serial_number;  // optional in the message
};

struct TokenUpdate {
  DeviceId udid;
  std::string topic;
  std::string token;  // raw bytes (32 on current devices)
  std::string push_magic;
  std::optional<std::string> unlock_token;  // raw bytes; a secret
  bool awaiting_configuration = false;
};

struct CheckOut {
  DeviceId udid;
  std::string topic;
};

// A supervised or ADE Mac escrows its bootstrap token; none (or empty) removes it.
struct SetBootstrapToken {
  DeviceId udid;
  std::optional<std::string> token;  // raw bytes; a secret
  bool awaiting_configuration = false;
};

// The device asks for its escrowed bootstrap token back.
struct GetBootstrapToken {
  DeviceId udid;
  bool awaiting_configuration = false;
};

using CheckinMessage =
    std::variant<Authenticate, TokenUpdate, CheckOut, SetBootstrapToken, GetBootstrapToken>;

// An unknown or unsupported MessageType; the 400 names it.
class UnknownMessageType : public BadRequest {
 public:
  explicit UnknownMessageType(const std::string& type)
      : BadRequest("unsupported MessageType \"" + type + "\""), type_(type) {}
  const std::string& type() const { return type_; }

 private:
  std::string type_;
};

// A message of a user channel: UserAuthenticate, or any message naming a UserID (a Mac user's
// mdmclient agent) or an EnrollmentUserID (the user of a User Enrollment). Answered 410, which
// Apple documents as the server declining to manage the user: the Mac then sends nothing more for
// that user during the login session, and the device channel goes on unaffected. Cairn does not
// manage users yet (issue 15); before this, a user-channel TokenUpdate would have replaced the
// device's own push token.
class UserChannelDeclined : public ClientError {
 public:
  UserChannelDeclined() : ClientError(410, "the user channel is not managed by this server") {}
};

// The device a message speaks for: its UDID, or for a User Enrollment (a personal device, which
// gives no UDID) its EnrollmentID. Throws BadRequest when it has neither.
DeviceId device_id(const Plist& message);

// Throws BadRequest (missing or mistyped keys), UnknownMessageType or UserChannelDeclined.
CheckinMessage decode_checkin(const Plist& message);

enum class Status { kIdle, kAcknowledged, kError, kCommandFormatError, kNotNow };

std::string_view status_name(Status s);
std::optional<Status> parse_status(std::string_view name);
// Acknowledged, Error and CommandFormatError end a command: only these dequeue it.
inline bool is_final(Status s) {
  return s == Status::kAcknowledged || s == Status::kError || s == Status::kCommandFormatError;
}

// One link of an Error result's ErrorChain (Apple's "ErrorChain" array: the error and what
// caused it, outermost first).
struct ErrorChainItem {
  std::string domain;
  int64_t code = 0;
  std::string description;  // LocalizedDescription, else USEnglishDescription
};

struct Report {
  DeviceId udid;
  Status status = Status::kIdle;
  std::optional<CommandUuid> command_uuid;  // absent for Idle, and for results that name none
  std::vector<ErrorChainItem> error_chain;  // what of it is readable; never a reason to refuse
};

// Throws BadRequest or UserChannelDeclined.
Report decode_report(const Plist& message);

// A command as an admin submits it: {CommandUUID, Command: {RequestType, ...}}.
struct Command {
  CommandUuid uuid;
  std::string request_type;
};

// Throws BadRequest if CommandUUID or Command.RequestType is missing.
Command decode_command(const Plist& command);

// The UDID (or EnrollmentID) a message claims, if it has one of the right type; used to
// attribute rejected messages.
std::optional<std::string> claimed_udid(const Plist& message);

// UDIDs and command UUIDs become store keys and paths: only [A-Za-z0-9._-], 1 to 128 characters.
bool is_valid_identifier(std::string_view id);

}  // namespace cairn::protocol
