// Apple's MDM protocol messages as Cairn understands them, decoded from plists. This layer knows
// nothing of HTTP, the log or storage.
//
// Check-in channel (Content-Type application/x-apple-aspen-mdm-checkin): Authenticate,
// TokenUpdate, CheckOut, SetBootstrapToken, GetBootstrapToken, UserAuthenticate,
// DeclarativeManagement. Command channel
// (application/x-apple-aspen-mdm): a report with a Status (Idle, or the result of the command named
// by CommandUUID), answered with the next command.
//
// Every message speaks for a channel: the device's own, or a user's on it (a Mac user's
// mdmclient agent, a Shared iPad user, the user of a macOS User Enrollment). Each channel is
// managed on its own: its own push token, command queue and answers.
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

// Shared iPad users all send this UserID; the user is named by UserShortName (a Managed Apple ID).
inline constexpr std::string_view kSharedIPadUserId = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF";

// The channel a message speaks for, named as NanoMDM names enrollments (so IDs from its tools
// carry over): the device channel by the UDID (a User Enrollment, which gives no UDID, by its
// EnrollmentID); a user channel by that, a colon and the user: UserID, UserShortName for a Shared
// iPad user, or EnrollmentUserID.
struct Channel {
  DeviceId id;                  // what the projection, the queue and pushes are keyed by
  DeviceId device;              // the device channel it is on: `id` itself unless a user channel
  std::string user_short_name;  // a user channel's UserShortName and UserLongName, when sent
  std::string user_long_name;
  bool is_user() const { return id != device; }
};

struct Authenticate {
  Channel channel;
  std::string topic;
  std::string serial_number;  // optional in the message
};

struct TokenUpdate {
  Channel channel;
  std::string topic;
  std::string token;  // raw bytes (32 on current devices)
  std::string push_magic;
  std::optional<std::string> unlock_token;  // raw bytes; a secret
  bool awaiting_configuration = false;
};

struct CheckOut {
  Channel channel;
  std::string topic;
};

// A supervised or ADE Mac escrows its bootstrap token; none (or empty) removes it.
struct SetBootstrapToken {
  Channel channel;
  std::optional<std::string> token;  // raw bytes; a secret
  bool awaiting_configuration = false;
};

// The device asks for its escrowed bootstrap token back.
struct GetBootstrapToken {
  Channel channel;
  bool awaiting_configuration = false;
};

// A user logs in on a Mac (a network or mobile account): the user channel starts. Apple's answer
// is a DigestChallenge round; Cairn does not authenticate users itself, so it answers a zero-length
// challenge, and the device carries on without a password digest (as Apple documents).
struct UserAuthenticate {
  Channel channel;
  bool digest_response_given = false;  // the second message of the round; never kept
};

// Declarative device management: the device asks for its tokens, its declaration items or one
// declaration, or sends a status report; `endpoint` says which (ingest/declarative_service).
struct DeclarativeManagement {
  Channel channel;
  std::string
      endpoint;      // "tokens", "declaration-items", "declaration/<kind>/<Identifier>", "status"
  std::string data;  // raw bytes (JSON): a status report; empty for the others
};

using CheckinMessage = std::variant<Authenticate, TokenUpdate, CheckOut, SetBootstrapToken,
                                    GetBootstrapToken, UserAuthenticate, DeclarativeManagement>;

// An unknown or unsupported MessageType; the 400 names it.
class UnknownMessageType : public BadRequest {
 public:
  explicit UnknownMessageType(const std::string& type)
      : BadRequest("unsupported MessageType \"" + type + "\""), type_(type) {}
  const std::string& type() const { return type_; }

 private:
  std::string type_;
};

// The answer to a user channel's message when the operator turned user channels off: 410, which
// Apple documents as the server declining to manage the user. The Mac then sends nothing more for
// that user during the login session, and the device channel goes on unaffected.
class UserChannelDeclined : public ClientError {
 public:
  UserChannelDeclined() : ClientError(410, "the user channel is not managed by this server") {}
};

// The device a message speaks for: its UDID, or for a User Enrollment (a personal device, which
// gives no UDID) its EnrollmentID. Throws BadRequest when it has neither.
DeviceId device_id(const Plist& message);
// The channel a message speaks for (see Channel). Throws BadRequest when it names no device, or a
// Shared iPad user without a UserShortName.
Channel channel_of(const Plist& message);
// Whether a message is a user's (UserAuthenticate, or naming a UserID or EnrollmentUserID),
// decided before it is decoded: declining user channels answers 410 however malformed it is.
bool names_a_user(const Plist& message);

// Throws BadRequest (missing or mistyped keys, a user channel on a message only the device
// channel sends) or UnknownMessageType.
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
  Channel channel;
  Status status = Status::kIdle;
  std::optional<CommandUuid> command_uuid;  // absent for Idle, and for results that name none
  std::vector<ErrorChainItem> error_chain;  // what of it is readable; never a reason to refuse
};

// Throws BadRequest.
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
// A channel's ID (Channel::id): a valid identifier, or one, a colon, and a user of 1 to 128
// characters of [A-Za-z0-9._@+-] (a Shared iPad user is an email-like Managed Apple ID). Never a
// '/': store keys separate with it.
bool is_valid_channel_id(std::string_view id);
// The device channel of a channel ID: the part before the colon.
DeviceId device_channel_of(std::string_view channel_id);
// Whether a (valid) channel ID names a user's channel rather than a device.
inline bool is_user_channel_id(std::string_view channel_id) {
  return channel_id.find(':') != std::string_view::npos;
}

}  // namespace cairn::protocol
