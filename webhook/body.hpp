// What a webhook receiver is sent: NanoMDM's body (a superset of MicroMDM's, which tools such as
// MDMDirector read), one per device message. docs/webhooks.md has the shapes and where they come
// from.
//
//   {"topic":"mdm.Authenticate","event_id":"<Cairn's event id>","created_at":"<RFC 3339 UTC>",
//    "checkin_event":{"udid":"…","raw_payload":"<base64 of the plist>"}}
//   {"topic":"mdm.Connect",…,"acknowledge_event":{"udid":"…","status":"Acknowledged",
//    "command_uuid":"…","raw_payload":"…"}}
//
// `created_at` is when Cairn received the message (the event's time), `event_id` the event's id:
// a receiver dedupes by it, as delivery is at least once. `raw_payload` is the message as the log
// keeps it: a TokenUpdate's UnlockToken and a SetBootstrapToken's token are cut out (they stay
// sealed). A user channel's messages also carry NanoMDM's `ids` (id "<UDID>:<user>", parent_id,
// type "User"). Cairn keeps no URL query parameters, so `url_params` is never sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/events.hpp"

namespace cairn::webhook {

// Every topic a webhook endpoint can take, in NanoMDM's names.
const std::vector<std::string_view>& known_topics();

// The topic of an event that carries a device message; none for every other event.
std::optional<std::string_view> topic_of(const events::Payload& payload);

// The same, from the event's type (the log record's header), to skip decoding other events.
std::optional<std::string_view> topic_of_type(std::string_view type);

// The body for an event that has a topic (compact JSON, keys in a fixed order).
std::string body_of(const events::Event& event, std::string_view topic);

// X-Hmac-Signature: standard base64 of HMAC-SHA256 of the body under the endpoint's secret.
std::string signature_of(std::string_view secret, std::string_view body);

}  // namespace cairn::webhook
