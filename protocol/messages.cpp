#include "protocol/messages.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "common/encoding.hpp"
#include "common/errors.hpp"

namespace cairn::protocol {
namespace {

std::string required_string(const Plist& p, const char* key) {
  auto v = p.string(key);
  if (!v || v->empty()) throw BadRequest(std::string("missing ") + key);
  return *v;
}

constexpr std::array<std::pair<Status, std::string_view>, 5> kStatusNames{{
    {Status::kIdle, "Idle"},
    {Status::kAcknowledged, "Acknowledged"},
    {Status::kError, "Error"},
    {Status::kCommandFormatError, "CommandFormatError"},
    {Status::kNotNow, "NotNow"},
}};

// Authenticate and the bootstrap token messages come from the device channel only.
Channel device_channel(const Plist& m, const std::string& type) {
  Channel c = channel_of(m);
  if (c.is_user()) throw BadRequest(type + " comes from the device channel only, not a user's");
  return c;
}

bool is_user_character(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '@' || c == '+';
}

}  // namespace

DeviceId device_id(const Plist& m) {
  if (auto udid = m.string("UDID"); udid && !udid->empty()) return DeviceId(*udid);
  if (auto enrollment = m.string("EnrollmentID"); enrollment && !enrollment->empty())
    return DeviceId(*enrollment);
  throw BadRequest("missing UDID (or EnrollmentID, for a User Enrollment)");
}

Channel channel_of(const Plist& m) {
  Channel c;
  c.device = device_id(m);
  // A device enrollment's users are named by UserID, a User Enrollment's by EnrollmentUserID: the
  // other key in a message is a malformed one, never silently the device channel.
  const bool by_udid = !m.string("UDID").value_or("").empty();
  if (by_udid && m.has("EnrollmentUserID"))
    throw BadRequest(
        "EnrollmentUserID with a UDID (a User Enrollment names itself by EnrollmentID)");
  if (!by_udid && m.has("UserID"))
    throw BadRequest("UserID without a UDID (a User Enrollment's user is an EnrollmentUserID)");
  std::string user = m.string(by_udid ? "UserID" : "EnrollmentUserID").value_or("");
  if (user == kSharedIPadUserId) {
    user = m.string("UserShortName").value_or("");
    if (user.empty()) throw BadRequest("a Shared iPad user's message without UserShortName");
  }
  c.id = user.empty() ? c.device : DeviceId(c.device.value() + ":" + user);
  if (!user.empty()) {
    // As the device sent them, within bounds: they go into events and the device API.
    constexpr size_t kMostName = 256;
    c.user_short_name = valid_utf8(m.string("UserShortName").value_or("").substr(0, kMostName));
    c.user_long_name = valid_utf8(m.string("UserLongName").value_or("").substr(0, kMostName));
  }
  return c;
}

bool names_a_user(const Plist& m) {
  return m.has("UserID") || m.has("EnrollmentUserID") ||
         m.string("MessageType").value_or("") == "UserAuthenticate";
}

std::string_view status_name(Status s) {
  for (const auto& [status, name] : kStatusNames)
    if (status == s) return name;
  return "Unknown";
}

std::optional<Status> parse_status(std::string_view name) {
  for (const auto& [status, n] : kStatusNames)
    if (n == name) return status;
  return std::nullopt;
}

std::optional<std::string> claimed_udid(const Plist& message) {
  try {
    return device_id(message).value();
  } catch (const BadRequest&) {
    return std::nullopt;
  }
}

CheckinMessage decode_checkin(const Plist& m) {
  const std::string type = required_string(m, "MessageType");
  if (type == "Authenticate") {
    return Authenticate{device_channel(m, type), required_string(m, "Topic"),
                        m.string("SerialNumber").value_or("")};
  }
  if (type == "TokenUpdate") {
    TokenUpdate t;
    t.channel = channel_of(m);
    t.topic = required_string(m, "Topic");
    auto token = m.data("Token");
    if (!token || token->empty()) throw BadRequest("missing Token");
    t.token = std::move(*token);
    t.push_magic = required_string(m, "PushMagic");
    t.unlock_token = m.data("UnlockToken");
    t.awaiting_configuration = m.boolean("AwaitingConfiguration").value_or(false);
    return t;
  }
  if (type == "CheckOut") return CheckOut{channel_of(m), required_string(m, "Topic")};
  if (type == "UserAuthenticate") {
    UserAuthenticate u{channel_of(m), !m.string("DigestResponse").value_or("").empty()};
    if (!u.channel.is_user()) throw BadRequest("UserAuthenticate without a UserID");
    return u;
  }
  if (type == "SetBootstrapToken") {
    auto token = m.data("BootstrapToken");
    if (token && token->empty()) token.reset();
    return SetBootstrapToken{device_channel(m, type), std::move(token),
                             m.boolean("AwaitingConfiguration").value_or(false)};
  }
  if (type == "GetToken") {
    // Apple's token services (Managed Apple ID tokens, Apple Watch pairing) need accounts with
    // Apple that Cairn does not hold: refused naming the service, not as an unknown message.
    const std::string service = m.string("TokenServiceType").value_or("");
    if (service == "com.apple.maid" || service == "com.apple.watch.pairing")
      throw BadRequest("GetToken for " + service + " is not offered by this server");
    throw BadRequest("GetToken: unknown TokenServiceType \"" + service +
                     "\" (Apple documents com.apple.maid and com.apple.watch.pairing)");
  }
  if (type == "GetBootstrapToken")
    return GetBootstrapToken{device_channel(m, type),
                             m.boolean("AwaitingConfiguration").value_or(false)};
  if (type == "DeclarativeManagement")
    return DeclarativeManagement{channel_of(m), required_string(m, "Endpoint"),
                                 m.data("Data").value_or("")};
  throw UnknownMessageType(type);
}

Report decode_report(const Plist& m) {
  Report r;
  r.channel = channel_of(m);
  const std::string status = required_string(m, "Status");
  const auto parsed = parse_status(status);
  if (!parsed) throw BadRequest("unknown Status \"" + status + "\"");
  r.status = *parsed;
  // The reference lists CommandUUID "(if any)" and 2011-era devices sent it empty. A result
  // without one is still recorded (as for an unknown command), never refused: a 4xx or 5xx
  // would have the device resend it forever.
  if (auto uuid = m.string("CommandUUID"); uuid && !uuid->empty())
    r.command_uuid = CommandUuid(*uuid);
  // What of the ErrorChain is readable, within bounds (the device controls it; the log keeps
  // the message as sent): a malformed chain or link is never a reason to refuse the result.
  constexpr size_t kMostLinks = 16;
  constexpr size_t kMostDescription = 1024;
  std::optional<Plist> chain;
  try {
    chain = m.array("ErrorChain");
  } catch (const BadRequest&) {
  }
  for (size_t i = 0; chain && i < chain->size() && r.error_chain.size() < kMostLinks; ++i) {
    try {
      const Plist link = chain->at(i);
      const std::string description =
          link.string("LocalizedDescription")
              .value_or(link.string("USEnglishDescription").value_or(""));
      r.error_chain.push_back({valid_utf8(link.string("ErrorDomain").value_or("").substr(0, 256)),
                               link.integer("ErrorCode").value_or(0),
                               valid_utf8(description.substr(0, kMostDescription))});
    } catch (const BadRequest&) {
    }
  }
  return r;
}

Command decode_command(const Plist& command) {
  Command c;
  c.uuid = CommandUuid(required_string(command, "CommandUUID"));
  auto body = command.dict("Command");
  if (!body) throw BadRequest("missing Command dictionary");
  c.request_type = required_string(*body, "RequestType");
  return c;
}

bool is_valid_identifier(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

bool is_valid_channel_id(std::string_view id) {
  const size_t colon = id.find(':');
  if (colon == std::string_view::npos) return is_valid_identifier(id);
  const std::string_view user = id.substr(colon + 1);
  return is_valid_identifier(id.substr(0, colon)) && !user.empty() && user.size() <= 128 &&
         std::all_of(user.begin(), user.end(), is_user_character);
}

DeviceId device_channel_of(std::string_view channel_id) {
  return DeviceId(std::string(channel_id.substr(0, channel_id.find(':'))));
}

}  // namespace cairn::protocol
