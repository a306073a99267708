// The admin API's commands: queue a command on devices (a raw plist, NanoMDM's shape, or typed
// JSON checked against the command catalog) and request pushes. Every change is an event carrying
// the admin's name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/api_keys.hpp"
#include "ingest/api_response.hpp"
#include "ingest/event_writer.hpp"
#include "projector/queries.hpp"

namespace cairn::ingest {

class CommandApi {
 public:
  CommandApi(EventWriter& writer, const projector::ProjectionReader& reader)
      : writer_(writer), reader_(reader) {}

  // PUT /v1/enqueue/{ids}: 200 all queued, 207 some, 500 none (per-ID reasons in "status"), 403
  // when every device lacks the access right the command needs. The plist is checked against
  // the command catalog (400 naming the field) unless `validate` is false (experiments).
  ApiResponse enqueue(const std::vector<std::string>& ids, std::string_view command_plist,
                      bool no_push, const Principal& actor, bool validate = true);
  // POST /api/v1/commands: {"request_type", "devices": [...], fields...} (protocol/command_json),
  // one CommandUUID for all its devices (generated unless "command_uuid" is given). 200 all
  // queued, 207 some, 403 none for want of access rights, 422 none for other reasons.
  ApiResponse enqueue_typed(std::string_view json, const Principal& actor);
  // GET /api/v1/catalog: every request type with its access right and OS support.
  ApiResponse catalog() const;
  // POST /v1/commands/{uuid}/cancel: cancels the command on `ids` (empty: every device it was
  // queued for) where it is still queued, a CommandCancelled each; answers per device what
  // became of it once applied: "cancelled", "cancelled after N deliveries: the device may have
  // run it", or the state it had already reached. 404 when the UUID was queued for none of them.
  ApiResponse cancel(const std::string& uuid, const std::vector<std::string>& ids,
                     const Principal& actor);
  // GET /v1/push/{ids}: records PushRequested for each known device.
  ApiResponse push(const std::vector<std::string>& ids, const Principal& actor);

 private:
  // Why a device cannot take commands, or empty if it can (then `device` receives its record).
  // A device unknown or checked out here may have enrolled through another node a moment ago:
  // the first such answer of a request waits until this node's projection has caught up with the
  // log (`caught_up` then true) and looks again; later ones in the request are trusted as read.
  std::string refusal(const std::string& udid, bool& caught_up,
                      std::optional<projector::DeviceRecord>* device = nullptr) const;
  struct Queued {
    IdRefusals refused;
    bool any_queued = false;
    bool all_for_access_rights = false;  // every refusal was a missing access right
  };
  struct CommandToQueue {
    std::string uuid;
    std::string request_type;
    std::string xml;
    int64_t access_right = 0;          // the AccessRights bit it needs; 0: none
    bool device_channel_only = false;  // Apple's schema does not take it on a user channel
    bool no_push = false;
    bool fresh_uuid = false;  // generated for this request: no device can hold it yet
  };
  // Commands that wipe, lock or unenroll need an admin key (ClientError 403 otherwise).
  static void require_role_for(std::string_view request_type, const Principal& actor);
  // Records CommandEnqueued for each device that may take the command: known, not checked out,
  // not holding this UUID already, granted the access right by its enrollment profile, and (for
  // a user channel) a command Apple takes there.
  Queued enqueue_to(const std::vector<std::string>& ids, const CommandToQueue& command,
                    const Principal& actor);

  EventWriter& writer_;
  const projector::ProjectionReader& reader_;
};

}  // namespace cairn::ingest
