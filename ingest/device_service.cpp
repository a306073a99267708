#include "ingest/device_service.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/digest.hpp"
#include "projector/ade.hpp"
#include "protocol/command_catalog.hpp"
#include "protocol/messages.hpp"

namespace cairn::ingest {
namespace {

using protocol::kUnlockTokenKey;

void require_valid_channel(const protocol::Channel& channel) {
  if (!protocol::is_valid_identifier(channel.device.value()))
    throw BadRequest("UDID must be 1-128 characters of [A-Za-z0-9._-] (so must an EnrollmentID)");
  if (!protocol::is_valid_channel_id(channel.id.value()))
    throw BadRequest(
        "the user (UserID, UserShortName or EnrollmentUserID) must be 1-128 characters of "
        "[A-Za-z0-9._@+-]");
}

// The body with the value of the secret at `key` (TokenUpdate's UnlockToken, SetBootstrapToken's
// BootstrapToken) cut out: the audit record keeps everything the device said except the secret,
// which is sealed into its own field.
events::RawMessage redact_secret(const Plist& message, std::string_view body, const char* key) {
  auto raw = events::raw_message(body);
  raw.redacted = key;
  const std::string key_tag = "<key>" + std::string(key) + "</key>";
  if (raw.encoding == "utf8") {
    const size_t at = raw.body.find(key_tag);
    const size_t open = at == std::string::npos ? at : raw.body.find("<data>", at);
    const size_t close = open == std::string::npos ? open : raw.body.find("</data>", open);
    const bool adjacent = open != std::string::npos &&
                          raw.body.find_first_not_of(" \t\r\n", at + key_tag.size()) == open;
    if (adjacent && close != std::string::npos) {
      std::string cut = raw.body;
      cut.erase(open + 6, close - open - 6);
      // Trust the cut only if the plist reader agrees the secret is gone (duplicate keys,
      // comments or CDATA could make the text search cut the wrong span).
      try {
        const auto remaining = Plist::parse(cut).data(key);
        if (remaining && remaining->empty()) {
          raw.body = std::move(cut);
          return raw;
        }
      } catch (const BadRequest&) {
        // fall through to re-encoding
      }
    }
  }
  // Binary, unusually formatted, or not verifiably cut: keep it re-encoded without the secret.
  Plist copy = Plist::adopt(plist_copy(message.root()));
  copy.remove(key);
  raw.encoding = "utf8";
  raw.body = copy.to_xml();
  raw.redacted = std::string(key) + " (message re-encoded as XML)";
  return raw;
}

// A secret a message may carry, sealed, and the message as recorded: with the secret cut out when
// there was one.
struct SealedSecret {
  std::string sealed;  // empty: the message carried none
  events::RawMessage message;
};
SealedSecret seal_secret(const crypto::SecretBox& secrets, const Plist& message,
                         std::string_view body, const std::optional<std::string>& secret,
                         const char* key, const std::string& context) {
  if (!secret) return {{}, events::raw_message(body)};
  return {secrets.seal(*secret, context), redact_secret(message, body, key)};
}

constexpr const char* kBootstrapTokenKey = "BootstrapToken";
constexpr std::string_view kDeviceConfigured = "DeviceConfigured";
// A digest of the user's password, if a device ever sends one: never kept.
constexpr const char* kDigestResponseKey = "DigestResponse";
// Sealed under a context of its own, so that one device secret can never be opened as another.
std::string bootstrap_token_context(const DeviceId& udid) {
  return "bootstrap-token/" + udid.value();
}

}  // namespace

std::string DeviceService::refusal(const DeviceId& udid, const ClientIdentity& who) const {
  auto device = reader_.device(udid);
  if (!device) return "unknown device";
  if (device->state == projector::EnrollmentState::kCheckedOut) return "device checked out";
  if (device->certificate_fingerprint != who.fingerprint &&
      !reader_.has_pending_identity(udid, who.fingerprint))
    return "certificate is not the one bound to this UDID";
  return {};
}

void DeviceService::authorize(const protocol::Channel& channel, const ClientIdentity& who) const {
  // A user channel speaks with its device's identity: the device's binding decides.
  if (auto why = writer_.refusal_caught_up([&] { return refusal(channel.device, who); });
      !why.empty())
    throw NotManaged(why);
}

void DeviceService::decline_users_when_off(const Plist& message) const {
  if (!user_channels_ && protocol::names_a_user(message)) throw protocol::UserChannelDeclined();
}

void DeviceService::limit_user_channels(const protocol::Channel& channel) const {
  if (!channel.is_user() || reader_.device(channel.id)) return;
  if (reader_.user_channels(channel.device).size() >= kMostUserChannelsPerDevice)
    throw ClientError(403, "the device has " + std::to_string(kMostUserChannelsPerDevice) +
                               " users' channels already; no more are managed");
}

// Authenticate with a new identity replaces the device's: from then on whoever holds it gets
// the device's commands (and the device's old identity stops working). An enrolled device is
// taken over only with an identity issued for this UDID and not yet used (renewal, a profile
// made for it), or once it is no longer managed by its old identity (CheckOut, an acknowledged
// EraseDevice) or an admin allowed it, for a while. Anyone else holding some valid identity (a
// leaked reusable SCEP challenge, a profile meant for another device) cannot claim it.
std::string DeviceService::enrollment_refusal(const DeviceId& udid,
                                              const ClientIdentity& who) const {
  const auto device = reader_.device(udid);
  if (!device || device->state == projector::EnrollmentState::kCheckedOut ||
      device->certificate_fingerprint == who.fingerprint)
    return {};
  if (!device->reenrollment_allowed.empty()) {
    const auto until = parse_rfc3339(device->reenrollment_allowed_until);
    if (until && std::chrono::system_clock::now() < *until) return {};
  }
  if (reader_.has_pending_identity(udid, who.fingerprint)) return {};
  return "the device is enrolled with another identity; to enroll it again, check it out, erase "
         "it through Cairn, or allow it: POST /v1/devices/" +
         udid.value() + "/reenrollment";
}

void DeviceService::authorize_enrollment(const DeviceId& udid, const ClientIdentity& who) const {
  if (auto why = writer_.refusal_caught_up([&] { return enrollment_refusal(udid, who); });
      !why.empty())
    throw ClientError(403, why);
}

DeviceAnswer DeviceService::checkin(const Plist& message, std::string_view body,
                                    const ClientIdentity& who,
                                    std::string_view enrollment_profile) {
  if (!enrollment_profile.empty() && !protocol::is_valid_identifier(enrollment_profile))
    throw BadRequest("the CheckInURL's profile parameter is not a profile identifier");
  decline_users_when_off(message);
  auto decoded = protocol::decode_checkin(message);
  DeviceAnswer reply;
  std::vector<events::Event> then;  // events the check-in causes, after its own
  events::Event event = std::visit(
      [&](auto& m) -> events::Event {
        using T = std::decay_t<decltype(m)>;
        require_valid_channel(m.channel);
        const DeviceId& udid = m.channel.id;
        if constexpr (std::is_same_v<T, protocol::Authenticate>) {
          // A certificate identifies one device; re-enrolling the same UDID may bring a new one.
          for (const auto& owner : reader_.devices_for_certificate(who.fingerprint))
            if (owner != udid) throw NotManaged("certificate is already bound to another device");
          authorize_enrollment(udid, who);
          events::DeviceAuthenticated p{
              m.topic,    m.serial_number,           who.fingerprint,
              who.source, events::raw_message(body), std::string(enrollment_profile)};
          if (!p.enrollment_profile.empty())
            if (auto profile = writer_.find_caught_up(
                    [&] { return reader_.enrollment_profile(p.enrollment_profile); }))
              p.development_apns = profile->development_apns;
          return writer_.make(udid.value(), "device", std::move(p));
        } else if constexpr (std::is_same_v<T, protocol::TokenUpdate>) {
          authorize(m.channel, who);
          limit_user_channels(m.channel);
          events::TokenUpdated p;
          p.topic = m.topic;
          p.token_hex = hex_encode(m.token);
          p.push_magic = m.push_magic;
          p.awaiting_configuration = m.awaiting_configuration;
          p.certificate_fingerprint = who.fingerprint;
          p.user_short_name = m.channel.user_short_name;
          p.user_long_name = m.channel.user_long_name;
          auto secret =
              seal_secret(secrets_, message, body, m.unlock_token, kUnlockTokenKey, udid.value());
          p.unlock_token_sealed = std::move(secret.sealed);
          p.message = std::move(secret.message);
          if (m.awaiting_configuration && !m.channel.is_user()) release_when_configured(udid, then);
          return writer_.make(udid.value(), "device", std::move(p));
        } else if constexpr (std::is_same_v<T, protocol::UserAuthenticate>) {
          authorize(m.channel, who);
          limit_user_channels(m.channel);
          // Cairn asks no password: a zero-length challenge lets the user in (Apple: the device
          // then goes on without a digest); a second message, should one come, is answered empty.
          if (!m.digest_response_given) {
            Plist challenge = Plist::new_dict();
            challenge.set_string("DigestChallenge", "");
            reply.body = challenge.to_xml();
          }
          return writer_.make(
              udid.value(), "device",
              events::UserAuthenticated{m.channel.user_short_name, m.channel.user_long_name,
                                        m.digest_response_given, who.fingerprint,
                                        m.digest_response_given
                                            ? redact_secret(message, body, kDigestResponseKey)
                                            : events::raw_message(body)});
        } else if constexpr (std::is_same_v<T, protocol::SetBootstrapToken>) {
          authorize(m.channel, who);
          events::BootstrapTokenSet p;
          p.awaiting_configuration = m.awaiting_configuration;
          p.certificate_fingerprint = who.fingerprint;
          auto secret = seal_secret(secrets_, message, body, m.token, kBootstrapTokenKey,
                                    bootstrap_token_context(udid));
          p.token_sealed = std::move(secret.sealed);
          p.message = std::move(secret.message);
          return writer_.make(udid.value(), "device", std::move(p));
        } else if constexpr (std::is_same_v<T, protocol::DeclarativeManagement>) {
          authorize(m.channel, who);
          auto answer = declarative_.handle(m, body, who.fingerprint);
          reply.body = std::move(answer.json);
          reply.content_type = "application/json";
          return writer_.make(udid.value(), "device", std::move(answer.event));
        } else if constexpr (std::is_same_v<T, protocol::GetBootstrapToken>) {
          authorize(m.channel, who);
          Plist answer = Plist::new_dict();
          if (auto token =
                  open_escrowed(reader_.bootstrap_token_sealed(udid), bootstrap_token_context(udid),
                                m.channel, who, kBootstrapTokenKey)) {
            answer.set_data(kBootstrapTokenKey, *token);
            OPENSSL_cleanse(token->data(), token->size());
          }
          reply.body = answer.to_xml();
          return writer_.make(udid.value(), "device",
                              events::BootstrapTokenReturned{
                                  answer.has(kBootstrapTokenKey), m.awaiting_configuration,
                                  who.fingerprint, events::raw_message(body)});
        } else {
          authorize(m.channel, who);
          return writer_.make(
              udid.value(), "device",
              events::DeviceCheckedOut{m.topic, who.fingerprint, events::raw_message(body)});
        }
      },
      decoded);
  // Recorded before the token is returned: every time a device is given it is in the audit trail.
  then.insert(then.begin(), std::move(event));
  writer_.append_and_wait_applied(then);
  return reply;
}

// A device enrolled through Automated Device Enrollment whose profile says await_device_configured
// waits in Setup Assistant (its TokenUpdates say AwaitingConfiguration) until DeviceConfigured.
// Cairn queues it at once, behind whatever is queued for the device already: a device runs its
// commands in order, so it is released when they are done. Queued once (not again while one is).
// A profile with cairn_release "manual" leaves it to the administrator (projector/ade.hpp).
void DeviceService::release_when_configured(const DeviceId& udid,
                                            std::vector<events::Event>& then) const {
  if (const auto device = reader_.device(udid);
      device && projector::AdeReader(reader_.store()).released_manually(device->serial_number))
    return;  // the administrator sends DeviceConfigured when the device is ready
  const auto queue = reader_.queue(udid);
  if (std::any_of(queue.begin(), queue.end(), [](const projector::CommandRecord& c) {
        return c.request_type == kDeviceConfigured;
      }))
    return;
  const std::string uuid = crypto::uuid_v4();
  Plist command = Plist::new_dict();
  command.set_string("RequestType", std::string(kDeviceConfigured));
  Plist message = Plist::new_dict();
  message.set_string("CommandUUID", uuid);
  message.set("Command", std::move(command));
  then.push_back(writer_.make(
      udid.value(), "server",
      events::CommandEnqueued{uuid, std::string(kDeviceConfigured), message.to_xml(), false}));
}

DeviceAnswer DeviceService::report(const Plist& message, std::string_view body,
                                   const ClientIdentity& who) {
  decline_users_when_off(message);
  const auto r = protocol::decode_report(message);
  require_valid_channel(r.channel);
  authorize(r.channel, who);
  const DeviceId& udid = r.channel.id;
  const std::string uuid = r.command_uuid ? r.command_uuid->value() : std::string();
  events::CommandReported reported{std::string(protocol::status_name(r.status)),
                                   uuid,
                                   who.fingerprint,
                                   events::raw_message(body),
                                   {}};
  for (const auto& link : r.error_chain)
    reported.error_chain.push_back({link.domain, link.code, link.description});
  writer_.append_and_wait_applied({writer_.make(udid.value(), "device", std::move(reported))});
  // A device polls again by itself only if NotNow was the last status it sent (Apple's guidance
  // on NotNow): answering with another command would leave the refused one stranded until some
  // later push. So a NotNow ends the session; the device's next poll gets the command again.
  if (r.status == protocol::Status::kNotNow) return {};
  // An Idle poll starts a session (recorded by the projection): commands refused with NotNow in
  // an earlier session are offered again, those refused in this one are passed over.
  // An administrator may cancel the command between the read and the delivery's record: the
  // log orders the two, so the delivery is sent only once applied as one (the cancel came
  // after); else the next command is tried. A few tries: each lost race needs a cancel.
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto next = reader_.next_command(udid);
    if (!next) return {};
    // Made before the delivery is recorded: a failure to make it records no delivery.
    std::string delivered = as_delivered(r.channel, who, *next);
    writer_.append_and_wait_applied(
        {writer_.make(udid.value(), "server", events::CommandDelivered{next->command_uuid})});
    const auto cmd = reader_.command(udid, CommandUuid(next->command_uuid));
    if (cmd && cmd->state == projector::CommandState::kDelivered)
      return {std::move(delivered), std::move(next->command_uuid)};
  }
  return {};
}

std::optional<std::string> DeviceService::open_escrowed(const std::optional<std::string>& sealed,
                                                        const std::string& context,
                                                        const protocol::Channel& channel,
                                                        const ClientIdentity& who,
                                                        std::string_view what) const {
  if (!sealed) return std::nullopt;
  // Read, then checked once more: had the device enrolled again with another identity since
  // authorize(), the secret read may be the new enrollment's, and the binding now refuses `who`.
  // (The projection only moves forward, so a refusal here is not a lagging read.)
  if (auto why = refusal(channel.device, who); !why.empty()) throw NotManaged(why);
  const DeviceId& udid = channel.id;
  try {
    return secrets_.open(*sealed, context);
  } catch (const std::exception& e) {
    // Permanent (the keyring lost the key it was sealed with): answering 500 would have the
    // device retry forever, so it is answered without the secret and the operator is told.
    logging::error("an escrowed secret cannot be opened; answered without it",
                   {{"udid", udid.value()}, {"secret", std::string(what)}, {"error", e.what()}});
    return std::nullopt;
  }
}

std::string DeviceService::as_delivered(const protocol::Channel& channel, const ClientIdentity& who,
                                        projector::QueuedCommand& next) const {
  if (next.request_type != protocol::kEscrowedUnlockTokenCommand) return std::move(next.plist);
  const DeviceId& udid = channel.id;
  auto token =
      open_escrowed(reader_.unlock_token_sealed(udid), udid.value(), channel, who, "UnlockToken");
  if (!token) {
    // None escrowed any more (a new enrollment without one), or unreadable: the device answers
    // the command with an error, recorded like any result, and its queue moves on.
    logging::warn("ClearPasscode delivered without an UnlockToken",
                  {{"udid", udid.value()}, {"command_uuid", next.command_uuid}});
    return std::move(next.plist);
  }
  Plist message = Plist::parse(next.plist);  // validated when it was queued
  auto command = message.dict("Command");
  if (!command) return std::move(next.plist);
  command->set_data(kUnlockTokenKey, *token);
  OPENSSL_cleanse(token->data(), token->size());
  message.set("Command", std::move(*command));
  return message.to_xml();
}

}  // namespace cairn::ingest
