// What the projection holds per device and per command, as read by ingest and the admin API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::projector {

enum class EnrollmentState : uint8_t {
  kAuthenticated = 0,  // Authenticate accepted; the MDM payload may still fail to install
  kEnrolled = 1,       // first TokenUpdate received: the device is managed and pushable
  kCheckedOut = 2,     // CheckOut received: no longer managed
};
std::string_view enrollment_state_name(EnrollmentState s);

// A device, or a user channel on one (protocol::Channel: `udid` is then "<device>:<user>"). A user
// channel has its own push token, queue and state; it is authorized by its device's identity.
struct DeviceRecord {
  std::string udid;
  EnrollmentState state = EnrollmentState::kAuthenticated;
  std::string topic;
  std::string serial_number;
  std::string certificate_fingerprint;  // the identity bound at Authenticate (or promoted since)
  std::string identity_source;
  std::string token_hex;
  std::string push_magic;
  bool unlock_token_escrowed = false;  // the sealed token itself is under keys::unlock_token
  bool awaiting_configuration = false;
  std::string first_seen;
  std::string last_seen;
  std::string authenticated_at;
  std::string enrolled_at;
  std::string checked_out_at;
  uint32_t enrollments = 0;  // Authenticate count: >1 means re-enrolled
  // No queued command has a lower sequence. Queue reads seek here, past the tombstones that
  // dequeued commands leave in RocksDB until compaction.
  int64_t queue_floor = 0;
  // Log offset of the device's latest Idle poll: the start of its current command session.
  int64_t session_start = -1;
  std::string last_push_at;              // the latest push APNs accepted
  std::string push_token_invalid_since;  // APNs rejected the token for good (until a TokenUpdate)
  std::string push_token_invalid_reason;
  std::string inactive_since;  // the liveness sweep's DeviceInactive; cleared by its next message
  std::string enrollment_profile;  // PayloadUUID of the Cairn profile it enrolled with, if any
  bool development_apns = false;   // that profile's UseDevelopmentAPNS
  // Why it may enroll again with a new identity while enrolled (an admin's ReenrollmentAllowed,
  // or "erased": it acknowledged EraseDevice), and until when; empty: it may not. Cleared by
  // Authenticate.
  std::string reenrollment_allowed;
  std::string reenrollment_allowed_until;
  // A user channel's names, as the device sent them.
  std::string user_short_name;
  std::string user_long_name;

  template <class Archive>
  void serialize(Archive& a) {
    a(udid, state, topic, serial_number, certificate_fingerprint, identity_source, token_hex,
      push_magic, unlock_token_escrowed, awaiting_configuration, first_seen, last_seen,
      authenticated_at, enrolled_at, checked_out_at, enrollments, queue_floor, session_start,
      last_push_at, push_token_invalid_since, push_token_invalid_reason, inactive_since,
      enrollment_profile, development_apns, reenrollment_allowed, reenrollment_allowed_until,
      user_short_name, user_long_name);
  }
};

enum class CommandState : uint8_t {
  kPending = 0,    // queued, never sent
  kDelivered = 1,  // sent to the device, no final status yet
  kNotNow = 2,     // the device answered NotNow; sent again on its next Idle poll
  kAcknowledged = 3,
  kError = 4,
  kCommandFormatError = 5,
  kCancelled = 6,  // left the queue without a result (the device re-enrolled)
};
std::string_view command_state_name(CommandState s);
inline bool is_queued(CommandState s) {
  return s == CommandState::kPending || s == CommandState::kDelivered || s == CommandState::kNotNow;
}

// One inventory field: its latest value (JSON), when it was reported and by which command.
struct InventoryRecord {
  std::string json;
  std::string updated_at;
  std::string command_uuid;

  template <class Archive>
  void serialize(Archive& a) {
    a(json, updated_at, command_uuid);
  }
};

// A link of an Error result's ErrorChain.
struct ErrorChainRecord {
  std::string domain;
  int64_t code = 0;
  std::string description;

  template <class Archive>
  void serialize(Archive& a) {
    a(domain, code, description);
  }
};

struct CommandRecord {
  std::string udid;
  std::string command_uuid;
  std::string request_type;
  std::string actor;
  bool no_push = false;
  CommandState state = CommandState::kPending;
  int64_t queue_sequence = 0;  // log offset of its CommandEnqueued: FIFO order per device
  std::string enqueued_at;
  std::string last_delivered_at;
  std::string finished_at;
  uint32_t deliveries = 0;
  uint32_t not_now_count = 0;
  uint32_t duplicate_results = 0;  // results after the final one (recorded in the log only)
  int64_t not_now_sequence = -1;   // log offset of its latest NotNow
  // Where the final result is in the log (the log keeps the device's message verbatim; the
  // projection does not copy it). -1 while the command has no final result.
  int32_t result_partition = -1;
  int64_t result_offset = -1;
  std::vector<ErrorChainRecord> error_chain;  // of an Error result

  template <class Archive>
  void serialize(Archive& a) {
    a(udid, command_uuid, request_type, actor, no_push, state, queue_sequence, enqueued_at,
      last_delivered_at, finished_at, deliveries, not_now_count, duplicate_results,
      not_now_sequence, result_partition, result_offset, error_chain);
  }
};

// An APNs push certificate as the admin API shows it (the private key stays sealed in the log).
// An enrollment profile Cairn handed out: what a device enrolled with it may be sent.
struct EnrollmentProfileRecord {
  std::string identity;
  std::string topic;
  int64_t access_rights = 0;
  std::string issued_at;
  std::string issued_by;
  bool development_apns = false;
  std::string udid;  // the device it was made for; empty: any

  template <class Archive>
  void serialize(Archive& a) {
    a(identity, topic, access_rights, issued_at, issued_by, development_apns, udid);
  }
};

// A profile's one-time SCEP challenge and the certificate that used it up.
struct ScepChallengeRecord {
  std::string expires_at;
  std::string profile_uuid;
  std::string used_by_fingerprint;  // empty until used
  std::string used_at;
  std::string udid;  // the profile's device: the identity is bound to it; empty: any

  template <class Archive>
  void serialize(Archive& a) {
    a(expires_at, profile_uuid, used_by_fingerprint, used_at, udid);
  }
};

// An OTA enrollment invitation and what became of it.
struct InvitationRecord {
  std::string expires_at;
  std::string created_by;
  std::string used_by_udid;   // empty until a device used it
  std::string used_by_event;  // the EnrollmentRequested that used it (the same UDID may race)
  std::string used_at;

  template <class Archive>
  void serialize(Archive& a) {
    a(expires_at, created_by, used_by_udid, used_by_event, used_at);
  }
};

// A device identity Cairn's CA issued (SCEP or PKCS#12), kept in expiry order.
struct IssuedIdentityRecord {
  std::string fingerprint;
  std::string subject;
  std::string serial;
  std::string not_after;
  std::string method;
  std::string issued_at;

  template <class Archive>
  void serialize(Archive& a) {
    a(fingerprint, subject, serial, not_after, method, issued_at);
  }
};

struct PushCertificateRecord {
  std::string topic;
  std::string certificate_pem;
  std::string not_after;
  std::string uploaded_at;
  std::string uploaded_by;

  template <class Archive>
  void serialize(Archive& a) {
    a(topic, certificate_pem, not_after, uploaded_at, uploaded_by);
  }
};

// Declarative device management (projector/declarative.hpp).

// A declaration as stored; what devices are served is its content with the server token.
struct DeclarationRecord {
  std::string identifier;
  std::string type;
  std::string server_token;
  std::string content;
  std::vector<std::string> references;
  std::string stored_at;
  std::string stored_by;

  template <class Archive>
  void serialize(Archive& a) {
    a(identifier, type, server_token, content, references, stored_at, stored_by);
  }
};

// What an enrollment last reported of one declaration (its management.declarations status item).
struct DeclarationStatusRecord {
  std::string identifier;
  std::string server_token;  // the revision it reported on
  bool active = false;
  std::string valid;         // "valid", "invalid" or "unknown"
  std::string reasons_json;  // its reasons array, as reported; empty when none
  std::string received_at;
  std::string report_id;  // the StatusReported event it came in

  template <class Archive>
  void serialize(Archive& a) {
    a(identifier, server_token, active, valid, reasons_json, received_at, report_id);
  }
};

// A status item's latest value (device.operating-system.version, passcode.is-compliant…).
struct StatusValueRecord {
  std::string json;
  std::string received_at;
  std::string report_id;

  template <class Archive>
  void serialize(Archive& a) {
    a(json, received_at, report_id);
  }
};

// Where a status report is in the log (which keeps it verbatim).
struct StatusReportPosition {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string received_at;
  std::string report_id;

  template <class Archive>
  void serialize(Archive& a) {
    a(partition, offset, received_at, report_id);
  }
};

// An enrollment's DDM as a whole: when it last asked, its latest reports (newest first) and the
// latest report's own Errors.
struct DeclarativeEnrollmentRecord {
  std::string first_request_at;
  std::string last_request_at;
  std::string last_served_token;  // the DeclarationsToken it was last given
  std::vector<StatusReportPosition> reports;
  std::string errors_json;      // the latest report's Errors array; empty when it had none
  uint64_t values_dropped = 0;  // status values past the per-enrollment bound, not kept

  template <class Archive>
  void serialize(Archive& a) {
    a(first_request_at, last_request_at, last_served_token, reports, errors_json, values_dropped);
  }
};

// Automated Device Enrollment (projector/ade.hpp).

// An ADE server token (one per MDM server in Apple Business Manager) and where its sync stands.
struct AdeTokenRecord {
  std::string token;
  std::string certificate_pem;  // the certificate the token file is encrypted to
  std::string private_key_sealed;
  std::string certificate_not_after;
  std::string credentials_sealed;  // empty until a token file is uploaded
  std::string access_token_expiry;
  std::string stored_at;
  std::string stored_by;
  std::string phase;  // "" (fetch from the start), "fetch" (a fetch under way) or "sync"
  std::string cursor;
  std::string last_synced_at;
  uint64_t pages = 0;
  // The latest failure, until a page succeeds (a "stopped" one until a new token is uploaded).
  std::string failure_outcome;
  std::string failure_call;
  std::string failure_reason;
  int failure_status = 0;
  std::string failed_at;
  std::string default_profile;
  std::string rules;  // JSON, as set
  // Full fetches begun; a fetch that completes releases the token's devices it did not see.
  uint64_t fetch_generation = 0;

  template <class Archive>
  void serialize(Archive& a) {
    a(token, certificate_pem, private_key_sealed, certificate_not_after, credentials_sealed,
      access_token_expiry, stored_at, stored_by, phase, cursor, last_synced_at, pages,
      failure_outcome, failure_call, failure_reason, failure_status, failed_at, default_profile,
      rules, fetch_generation);
  }
};

struct AdeProfileRecord {
  std::string profile;
  std::string content;  // JSON object: Apple's profile fields
  std::string stored_at;
  std::string stored_by;

  template <class Archive>
  void serialize(Archive& a) {
    a(profile, content, stored_at, stored_by);
  }
};

// A profile as defined at the ADE service for one token.
struct AdeDefinedProfileRecord {
  std::string profile_uuid;
  std::string content_sha256;
  std::string defined_at;

  template <class Archive>
  void serialize(Archive& a) {
    a(profile_uuid, content_sha256, defined_at);
  }
};

// A device Apple Business Manager assigned to one of Cairn's MDM servers, by serial number: what
// the ADE service last said of it, what Cairn assigned, and its enrollment.
struct AdeDeviceRecord {
  std::string serial_number;
  std::string token;
  std::string model;
  std::string description;
  std::string color;
  std::string asset_tag;
  std::string os;
  std::string device_family;
  std::string profile_status;
  std::string profile_uuid;
  std::string profile_assign_time;
  std::string profile_push_time;
  std::string device_assigned_date;
  std::string device_assigned_by;
  std::string op_date;
  bool deleted = false;  // released from the MDM server in Apple Business Manager
  std::string first_synced_at;
  std::string last_synced_at;
  std::string assigned_profile;  // Cairn's profile name, last assigned
  std::string assign_status;     // the ADE service's answer: SUCCESS, THROTTLED, ...
  std::string assigned_at;
  std::string enrollment_udid;  // set by its MachineInfo (AdeEnrollmentRequested)
  std::string enrollment_requested_at;
  std::string enrollment_profile;
  std::string enrollment_signer;  // the fingerprint of the identity that signed that MachineInfo
  uint64_t seen_in_fetch = 0;     // the token's fetch_generation that last listed it
  bool held = false;  // an administrator's: no profile from the rules, its own removed at Apple
  std::string enrolled_with_profile;  // the ADE profile (Cairn's name) it enrolled with

  template <class Archive>
  void serialize(Archive& a) {
    a(serial_number, token, model, description, color, asset_tag, os, device_family, profile_status,
      profile_uuid, profile_assign_time, profile_push_time, device_assigned_date,
      device_assigned_by, op_date, deleted, first_synced_at, last_synced_at, assigned_profile,
      assign_status, assigned_at, enrollment_udid, enrollment_requested_at, enrollment_profile,
      enrollment_signer, seen_in_fetch, held, enrolled_with_profile);
  }
};

}  // namespace cairn::projector
