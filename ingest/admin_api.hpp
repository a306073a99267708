// The admin API, independent of HTTP. NanoMDM-compatible where NanoMDM has the endpoint
// (enqueue a raw command plist to many devices, request pushes), plus read endpoints for
// devices, queues and command status. Every change is an event carrying the admin's name.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.hpp"
#include "crypto/secret_box.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/event_writer.hpp"
#include "pki/push_certificate.hpp"
#include "projector/queries.hpp"

namespace cairn::ingest {

struct ApiResponse {
  int status = 200;
  std::string json;  // the body: JSON unless content_type says otherwise
  std::string content_type = "application/json";
};

using IdRefusals = std::vector<std::pair<std::string, std::string>>;  // device id → why refused

class AdminApi {
 public:
  AdminApi(EventWriter& writer, const projector::ProjectionReader& reader,
           const projector::Store& store, eventlog::EventLog& log, const crypto::SecretBox& secrets)
      : writer_(writer), reader_(reader), store_(store), log_(log), secrets_(secrets) {}

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
  // GET /v1/push/{ids}: records PushRequested for each known device.
  ApiResponse push(const std::vector<std::string>& ids, const Principal& actor);

  // POST /v1/devices/{id}/reenrollment: records ReenrollmentAllowed (the next Authenticate with
  // a new identity within `valid_for` is accepted); 404 for an unknown device.
  ApiResponse allow_reenrollment(const std::string& udid, const std::string& note,
                                 std::chrono::hours valid_for, const Principal& actor);

  ApiResponse devices(const std::string& after, size_t limit) const;
  // GET /api/v1/devices?<filter>=<value>&…: devices whose inventory matches every filter
  // (projector/inventory), cursor paging like devices().
  ApiResponse devices_matching(const std::vector<std::pair<std::string, std::string>>& filters,
                               const std::string& after, size_t limit) const;
  ApiResponse device(const std::string& udid) const;
  ApiResponse device_commands(const std::string& udid) const;  // queue and history
  ApiResponse command(const std::string& uuid) const;          // status on each device
  ApiResponse projection() const;                              // digest and position

  // PUT /v1/pushcert (NanoMDM): the certificate and its clear private key, PEM, in one body.
  // The key is sealed before it is recorded.
  ApiResponse upload_push_certificate(std::string_view pem_bundle, const Principal& actor);
  // The same from a PKCS#12 file and its password (never logged or recorded).
  ApiResponse upload_push_certificate_pkcs12(std::string_view der, const std::string& password,
                                             const Principal& actor);
  ApiResponse push_certificates() const;  // topics, expiry, a warning from 30 days before

 private:
  // Why a device cannot take commands, or empty if it can (then `device` receives its record).
  std::string refusal(const std::string& udid,
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
    int64_t access_right = 0;  // the AccessRights bit it needs; 0: none
    bool no_push = false;
    bool fresh_uuid = false;  // generated for this request: no device can hold it yet
  };
  // Records CommandEnqueued for each device that may take the command: known, not checked out,
  // not holding this UUID already, and granted the access right by its enrollment profile.
  // Commands that wipe, lock or unenroll need an admin key (ClientError 403 otherwise).
  static void require_role_for(std::string_view request_type, const Principal& actor);
  Queued enqueue_to(const std::vector<std::string>& ids, const CommandToQueue& command,
                    const Principal& actor);
  // The device's final result for a command, read from the log where it is kept verbatim.
  std::string result_of(const projector::CommandRecord& c) const;
  void write_command(JsonWriter& j, const projector::CommandRecord& c, bool with_result) const;
  ApiResponse record_push_certificate(const pki::PushCertificate& cert, const Principal& actor);

  EventWriter& writer_;
  const projector::ProjectionReader& reader_;
  const projector::Store& store_;
  eventlog::EventLog& log_;
  const crypto::SecretBox& secrets_;
};

// "a,b,c" → {"a","b","c"}; empty items dropped.
std::vector<std::string> split_ids(std::string_view ids);

}  // namespace cairn::ingest
