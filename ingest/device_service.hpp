// What handling a device's message means, independent of HTTP: authorize it against the
// certificate binding, record it as an event, and compute the answer from the projection.
#pragma once

#include <string>
#include <string_view>

#include "crypto/secret_box.hpp"
#include "ingest/declarative_service.hpp"
#include "ingest/event_writer.hpp"
#include "ingest/identity.hpp"
#include "plist/plist.hpp"
#include "projector/queries.hpp"
#include "protocol/messages.hpp"

namespace cairn::ingest {

struct DeviceAnswer {
  std::string body;  // empty: a 200 with no body (check-in accepted, or no more commands)
  std::string command_uuid;
  std::string content_type = "application/xml";  // a plist; DDM answers JSON
};

class DeviceService {
 public:
  // Users' channels one device may have: a Shared iPad in a school sees many users over its
  // life (channels stay until the device enrolls again), a device identity alone must not add
  // without end.
  static constexpr size_t kMostUserChannelsPerDevice = 1000;

  // `user_channels`: whether users' channels are managed (a Mac user's, a Shared iPad user's);
  // when not, their messages are declined with 410 (protocol::UserChannelDeclined).
  DeviceService(EventWriter& writer, const projector::ProjectionReader& reader,
                const crypto::SecretBox& secrets, bool user_channels = true)
      : writer_(writer),
        reader_(reader),
        declarative_reader_(reader.store()),
        declarative_(declarative_reader_),
        secrets_(secrets),
        user_channels_(user_channels) {}

  // Check-in channel: Authenticate, TokenUpdate, CheckOut, the bootstrap token messages,
  // UserAuthenticate and DeclarativeManagement (ingest/declarative_service). Throws BadRequest,
  // protocol::UnknownMessageType, UserChannelDeclined, NotManaged (→ 401) or Unavailable.
  // `enrollment_profile`: the `profile` query parameter of the CheckInURL (Cairn's profiles name
  // themselves there), recorded with Authenticate.
  DeviceAnswer checkin(const Plist& message, std::string_view body, const ClientIdentity& who,
                       std::string_view enrollment_profile = {});

  // Command channel: records the report, then answers with the next command, if any.
  DeviceAnswer report(const Plist& message, std::string_view body, const ClientIdentity& who);

 private:
  // Throws NotManaged unless the channel's device is enrolled or authenticated and bound to `who`
  // (a user channel speaks with its device's identity). A refusal is
  // decided only on a projection that has caught up with the log: a lagging projection (after a
  // restart or a rebuild) must give 503, never an unenrolling 401.
  void authorize(const protocol::Channel& channel, const ClientIdentity& who) const;
  // Throws protocol::UserChannelDeclined (410) for a user's message when users are not managed.
  void decline_users_when_off(const Plist& message) const;
  // Throws ClientError (403) when a new user's channel would pass kMostUserChannelsPerDevice:
  // a device's identity alone must not fill the store with channels.
  // Queues DeviceConfigured for a device waiting in Setup Assistant (into `then`).
  void release_when_configured(const DeviceId& udid, std::vector<events::Event>& then) const;
  void limit_user_channels(const protocol::Channel& channel) const;
  // Why `udid` may not speak with `who`'s certificate, or empty if it may.
  std::string refusal(const DeviceId& udid, const ClientIdentity& who) const;
  // Throws ClientError (403) when Authenticate would take `udid` over from the identity it is
  // enrolled with (decided, like authorize, on a caught-up projection).
  void authorize_enrollment(const DeviceId& udid, const ClientIdentity& who) const;
  std::string enrollment_refusal(const DeviceId& udid, const ClientIdentity& who) const;
  // The command as it goes to the device: ClearPasscode gets the device's own escrowed
  // UnlockToken here and nowhere else (protocol/command_catalog.hpp).
  std::string as_delivered(const protocol::Channel& channel, const ClientIdentity& who,
                           projector::QueuedCommand& next) const;
  // The channel's escrowed secret (`sealed`, read by the caller) opened under `context`; nullopt
  // when none is escrowed or it cannot be opened (logged: `what` names it). Throws NotManaged when
  // the device is no longer bound to `who` (it enrolled again since it was authorized).
  std::optional<std::string> open_escrowed(const std::optional<std::string>& sealed,
                                           const std::string& context,
                                           const protocol::Channel& channel,
                                           const ClientIdentity& who, std::string_view what) const;

  EventWriter& writer_;
  const projector::ProjectionReader& reader_;
  projector::DeclarativeReader declarative_reader_;
  DeclarativeService declarative_;
  const crypto::SecretBox& secrets_;
  bool user_channels_;
};

}  // namespace cairn::ingest
