// The event types: Cairn's contract with every consumer of the log (projectors, dispatchers,
// analytics). Each type has a JSON Schema in schemas/events/<Type>.schema.json; a test checks
// every encoded type against its schema.
//
// Envelope (one JSON object per record): id, type, version, time (RFC 3339 UTC), device (UDID;
// for a user channel "<UDID>:<user>", protocol/messages.hpp's Channel),
// node (the ingest node that wrote it), actor (who caused it: "device" or an admin key's name),
// payload (per type). Adding a field is a new minor shape that old readers ignore (and that new
// readers find missing in old events: such fields are optional, empty when absent); changing or
// removing one is a new version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "eventlog/event_log.hpp"

namespace cairn::events {

// The device's message as received. `body` is the text when it is UTF-8, else base64. When a
// secret was cut out of it (TokenUpdate's UnlockToken, sealed separately), `redacted` names the
// key; `sha256` is always of the bytes as received, so a keyholder can prove the original.
struct RawMessage {
  std::string encoding;  // "utf8" or "base64"
  std::string body;
  std::string sha256;
  std::string redacted;

  template <class Archive>
  void serialize(Archive& a);
};

struct DeviceAuthenticated {
  static constexpr std::string_view kType = "DeviceAuthenticated";
  static constexpr int kVersion = 1;
  std::string topic;
  std::string serial_number;
  std::string certificate_fingerprint;  // SHA-256 of the identity certificate's DER, hex
  std::string identity_source;          // "tls", "mdm-signature" or "proxy-header"
  RawMessage message;
  // Optional (added after v1's first shape): the PayloadUUID of the enrollment profile the device
  // installed, from its CheckInURL (`?profile=`); empty for profiles Cairn did not make.
  std::string enrollment_profile;
  // Optional: that profile's UseDevelopmentAPNS, so the device's pushes go to APNs's sandbox.
  bool development_apns = false;
  template <class Archive>
  void serialize(Archive& a);
};

struct TokenUpdated {
  static constexpr std::string_view kType = "TokenUpdated";
  static constexpr int kVersion = 1;
  std::string topic;
  std::string token_hex;
  std::string push_magic;
  std::string unlock_token_sealed;  // SecretBox-sealed, bound to the UDID; empty if none sent
  bool awaiting_configuration = false;
  std::string certificate_fingerprint;
  RawMessage message;
  // Optional: a user channel's UserShortName and UserLongName (the device field names the
  // channel: "<device>:<user>"); empty for the device channel.
  std::string user_short_name = {};
  std::string user_long_name = {};
  template <class Archive>
  void serialize(Archive& a);
};

// UserAuthenticate (a user logs in on a Mac): the user channel "<device>:<user>" starts. Answered
// with a zero-length DigestChallenge; a second message's DigestResponse is never kept (the
// message is recorded without it).
struct UserAuthenticated {
  static constexpr std::string_view kType = "UserAuthenticated";
  static constexpr int kVersion = 1;
  std::string user_short_name;
  std::string user_long_name;
  bool digest_response_given = false;
  std::string certificate_fingerprint;  // the device's identity: a user channel has none its own
  RawMessage message;
  template <class Archive>
  void serialize(Archive& a);
};

// SetBootstrapToken (a supervised or ADE Mac, macOS 10.15+): the device escrows the token that
// lets MDM grant SecureToken and volume ownership. Kept sealed like the UnlockToken; an empty
// token_sealed means the device cleared it.
struct BootstrapTokenSet {
  static constexpr std::string_view kType = "BootstrapTokenSet";
  static constexpr int kVersion = 1;
  std::string token_sealed;  // SecretBox-sealed, bound to the UDID; empty: removed
  bool awaiting_configuration = false;
  std::string certificate_fingerprint;
  RawMessage message;  // BootstrapToken cut out (redacted)
  template <class Archive>
  void serialize(Archive& a);
};

// GetBootstrapToken: the device was given its escrowed token back (an audit record of each time).
struct BootstrapTokenReturned {
  static constexpr std::string_view kType = "BootstrapTokenReturned";
  static constexpr int kVersion = 1;
  bool had_token = false;  // false: none was escrowed, the answer had none
  bool awaiting_configuration = false;
  std::string certificate_fingerprint;
  RawMessage message;
  template <class Archive>
  void serialize(Archive& a);
};

struct DeviceCheckedOut {
  static constexpr std::string_view kType = "DeviceCheckedOut";
  static constexpr int kVersion = 1;
  std::string topic;
  std::string certificate_fingerprint;
  RawMessage message;
  template <class Archive>
  void serialize(Archive& a);
};

struct CommandEnqueued {
  static constexpr std::string_view kType = "CommandEnqueued";
  static constexpr int kVersion = 1;
  std::string command_uuid;
  std::string request_type;
  std::string command_plist;  // XML, exactly as it will be sent to the device
  bool no_push = false;
  template <class Archive>
  void serialize(Archive& a);
};

struct CommandDelivered {
  static constexpr std::string_view kType = "CommandDelivered";
  static constexpr int kVersion = 1;
  std::string command_uuid;
  template <class Archive>
  void serialize(Archive& a);
};

// An administrator cancelled a queued command for this device: it leaves the queue and is never
// sent (again). Applied in log order with the device's messages: a command the device already
// finished stays finished; one delivered and not yet answered is cancelled but may have run.
struct CommandCancelled {
  static constexpr std::string_view kType = "CommandCancelled";
  static constexpr int kVersion = 1;
  std::string command_uuid;
  template <class Archive>
  void serialize(Archive& a);
};

// Every command-channel message: Idle polls and results (Acknowledged, Error, CommandFormatError,
// NotNow), including duplicates and results for unknown commands.
// A link of an Error result's ErrorChain, as the device reported it.
struct ErrorChainLink {
  std::string domain;
  int64_t code = 0;
  std::string description;
  template <class Archive>
  void serialize(Archive& a);
};

struct CommandReported {
  static constexpr std::string_view kType = "CommandReported";
  static constexpr int kVersion = 1;
  std::string status;
  std::string command_uuid;  // empty for Idle
  std::string certificate_fingerprint;
  RawMessage message;
  // Optional: an Error result's ErrorChain, read out of the message for the command's status.
  std::vector<ErrorChainLink> error_chain;
  template <class Archive>
  void serialize(Archive& a);
};

struct PushRequested {
  static constexpr std::string_view kType = "PushRequested";
  static constexpr int kVersion = 1;
  std::string reason;
  template <class Archive>
  void serialize(Archive& a);
};

// A request refused with a 4xx. The body itself is not kept (it may hold secrets and is
// attacker-sized): only its size and SHA-256.
struct MessageRejected {
  static constexpr std::string_view kType = "MessageRejected";
  static constexpr int kVersion = 1;
  int http_status = 0;
  std::string reason;
  std::string path;
  std::string content_type;
  uint64_t body_size = 0;
  std::string body_sha256;
  std::string remote_address;
  std::string certificate_fingerprint;
  // Optional: refusals from the same source not recorded since the last recorded one (see
  // EventWriter::admit_refusal). Absent in events written before it existed.
  uint64_t repeated = 0;
  template <class Archive>
  void serialize(Archive& a);
};

// An APNs push certificate for a topic, uploaded through the admin API. The private key is sealed
// (SecretBox, bound to "push-certificate:<topic>"): consumers of the log cannot read it.
struct PushCertificateUploaded {
  static constexpr std::string_view kType = "PushCertificateUploaded";
  static constexpr int kVersion = 1;
  std::string topic;            // the certificate subject's UID
  std::string certificate_pem;  // with any intermediates sent alongside
  std::string private_key_sealed;
  std::string not_after;  // RFC 3339
  template <class Archive>
  void serialize(Archive& a);
};

// The dispatcher's outcomes, one per push attempt that got one (device = the pushed device).
struct PushSent {
  static constexpr std::string_view kType = "PushSent";
  static constexpr int kVersion = 1;
  std::string topic;
  std::string token_hex;
  std::string apns_id;
  template <class Archive>
  void serialize(Archive& a);
};

struct PushFailed {
  static constexpr std::string_view kType = "PushFailed";
  static constexpr int kVersion = 1;
  std::string topic;
  int http_status = 0;  // 0: no answer (connection refused, timeout, no certificate)
  std::string reason;   // APNs's reason, or what went wrong before an answer
  std::string apns_id;
  int attempt = 0;
  bool will_retry = false;
  template <class Archive>
  void serialize(Archive& a);
};

// APNs said the token is no good (410 Unregistered, BadDeviceToken, ...): no more pushes to it
// until the device sends a new TokenUpdate.
struct PushTokenInvalidated {
  static constexpr std::string_view kType = "PushTokenInvalidated";
  static constexpr int kVersion = 1;
  std::string topic;
  std::string token_hex;
  int http_status = 0;
  std::string reason;
  template <class Archive>
  void serialize(Archive& a);
};

// The dispatcher's liveness sweep found the device silent past the inactivity window. Any later
// message from the device makes it active again.
struct DeviceInactive {
  static constexpr std::string_view kType = "DeviceInactive";
  static constexpr int kVersion = 1;
  std::string last_heard;  // RFC 3339: its latest message the dispatcher saw
  template <class Archive>
  void serialize(Archive& a);
};

// Enrollment (device empty unless the device is known): an identity certificate issued by
// Cairn's CA, through SCEP or in a PKCS#12 of an enrollment profile.
struct CertificateIssued {
  static constexpr std::string_view kType = "CertificateIssued";
  static constexpr int kVersion = 1;
  std::string method;  // "scep", "scep-renewal" or "pkcs12"
  std::string serial;  // hex
  std::string subject;
  std::string fingerprint;     // SHA-256 of the DER, hex: what the device will present
  std::string not_after;       // RFC 3339
  std::string transaction_id;  // SCEP's; empty otherwise
  std::string scep_challenge;  // SHA-256 of the one-time challenge it used up; empty otherwise
  template <class Archive>
  void serialize(Archive& a);
};

// An enrollment step refused, with why (a SCEP request with a wrong challenge, a bad signature...).
struct EnrollmentRefused {
  static constexpr std::string_view kType = "EnrollmentRefused";
  static constexpr int kVersion = 1;
  std::string stage;  // "scep" or "ota"
  std::string reason;
  std::string fail_info;  // SCEP failInfo name (badRequest, badMessageCheck...), if any
  std::string transaction_id;
  std::string remote_address;
  uint64_t repeated = 0;  // optional, as MessageRejected's
  template <class Archive>
  void serialize(Archive& a);
};

// An enrollment profile handed out (actor: the admin who asked). No secret is recorded: the
// challenge and any PKCS#12 password went to the requester only.
struct ProfileIssued {
  static constexpr std::string_view kType = "ProfileIssued";
  static constexpr int kVersion = 1;
  std::string profile_uuid;
  std::string identity;  // "scep" or "pkcs12"
  std::string topic;
  int access_rights = 0;
  std::string certificate_fingerprint;  // the PKCS#12's certificate; empty for SCEP
  // SHA-256 of the profile's one-time SCEP challenge and when it expires; empty when the profile
  // carries the deployment's reusable challenge (or a PKCS#12).
  std::string scep_challenge;
  std::string scep_challenge_expires_at;
  // Optional: the device it was made for (a renewal, or OTA with a verified device certificate);
  // the identity it yields is then bound to that UDID (IdentityBound).
  std::string udid;
  bool development_apns = false;  // Optional: its UseDevelopmentAPNS
  template <class Archive>
  void serialize(Archive& a);
};

// An OTA enrollment invitation (actor: the admin). Only the SHA-256 of its one-time token is
// recorded: the token is a bearer credential, handed to the admin once.
struct EnrollmentInvited {
  static constexpr std::string_view kType = "EnrollmentInvited";
  static constexpr int kVersion = 1;
  std::string invitation;  // SHA-256 of the token, hex
  std::string expires_at;  // RFC 3339
  std::string note;
  template <class Archive>
  void serialize(Archive& a);
};

// A device answered an invitation with its signed attributes (OTA phase 2). Device-less (and so
// in one partition with the invitation) so that a token's first use wins in every replica;
// the UDID is in the payload.
struct EnrollmentRequested {
  static constexpr std::string_view kType = "EnrollmentRequested";
  static constexpr int kVersion = 1;
  std::string invitation;
  std::string udid;
  std::string serial_number;
  std::string product;
  std::string version;
  std::string imei;
  std::string signer_subject;
  std::string signer_fingerprint;
  template <class Archive>
  void serialize(Archive& a);
};

// A new identity certificate bound to the device (the record key) while its current one stays
// valid: a SCEP renewal signed with the current identity, or an identity from a profile made for
// this UDID. The device may present it from its next message on; the first message that does
// makes it the device's certificate and retires the old one (and any other pending). A renewal
// counts only if, in log order, `renewed_fingerprint` is still the device's.
struct IdentityBound {
  static constexpr std::string_view kType = "IdentityBound";
  static constexpr int kVersion = 1;
  std::string fingerprint;
  std::string not_after;
  std::string reason;               // "renewal" or "profile"
  std::string renewed_fingerprint;  // renewal: the identity that signed the request
  template <class Archive>
  void serialize(Archive& a);
};

// An admin allowed the device (the record key) to enroll again with a new identity while it is
// still enrolled (a device erased or restored by hand). Used by its next Authenticate.
struct ReenrollmentAllowed {
  static constexpr std::string_view kType = "ReenrollmentAllowed";
  static constexpr int kVersion = 1;
  std::string note;
  std::string expires_at;  // RFC 3339: an Authenticate after it is refused again
  template <class Archive>
  void serialize(Archive& a);
};

// Declarative device management (DDM). Declarations and sets are device-less (one partition, in
// order, as push certificates are); an enrollment's sets, its DDM requests and its status reports
// are keyed by it. A device's declarations are joined from both when read, never copied per device.

// A declaration stored through the admin API: new, changed, or touched (a new ServerToken for the
// same content, so devices fetch it again).
struct DeclarationStored {
  static constexpr std::string_view kType = "DeclarationStored";
  static constexpr int kVersion = 1;
  std::string identifier;
  std::string declaration_type;
  std::string server_token;
  std::string
      content;  // {"Type","Identifier","Payload"}, compact JSON, checked against Apple's schema
  std::vector<std::string> references;  // the declarations it names (its configurations, assets)
  template <class Archive>
  void serialize(Archive& a);
};

struct DeclarationDeleted {
  static constexpr std::string_view kType = "DeclarationDeleted";
  static constexpr int kVersion = 1;
  std::string identifier;
  template <class Archive>
  void serialize(Archive& a);
};

// A declaration put in a set, or taken out of it.
struct SetDeclarationChanged {
  static constexpr std::string_view kType = "SetDeclarationChanged";
  static constexpr int kVersion = 1;
  std::string set;
  std::string declaration;
  bool member = false;
  template <class Archive>
  void serialize(Archive& a);
};

// A set assigned to the enrollment (the record key: a device or a user channel), or taken off it.
struct EnrollmentSetChanged {
  static constexpr std::string_view kType = "EnrollmentSetChanged";
  static constexpr int kVersion = 1;
  std::string set;
  bool member = false;
  template <class Archive>
  void serialize(Archive& a);
};

// A DeclarativeManagement check-in asking for tokens, the declaration items or one declaration,
// and what it was given: the DeclarationsToken, or the declaration's ServerToken (empty: 404).
struct DeclarativeRequested {
  static constexpr std::string_view kType = "DeclarativeRequested";
  static constexpr int kVersion = 1;
  std::string endpoint;
  std::string served_token;
  std::string certificate_fingerprint;
  RawMessage message;
  template <class Archive>
  void serialize(Archive& a);
};

// A DeclarativeManagement check-in with a status report (Endpoint "status"), kept verbatim: the
// report is the JSON in the message's Data.
struct StatusReported {
  static constexpr std::string_view kType = "StatusReported";
  static constexpr int kVersion = 1;
  bool full_report = false;
  std::string certificate_fingerprint;
  RawMessage message;
  template <class Archive>
  void serialize(Archive& a);
};

// Automated Device Enrollment (docs/ade.md). Device-less (one partition, in order): ADE devices
// are named by serial number until one enrolls; the token (`token`) is the name the
// administrator gave the ADE server token (one per Apple Business Manager MDM server).

// The certificate Apple Business Manager encrypts the token to (`cairn ade token-cert`); its
// private key sealed (bound to "ade-token-key:<token>").
struct AdeTokenCertificateCreated {
  static constexpr std::string_view kType = "AdeTokenCertificateCreated";
  static constexpr int kVersion = 1;
  std::string token;
  std::string certificate_pem;
  std::string private_key_sealed;
  std::string not_after;  // RFC 3339
  template <class Archive>
  void serialize(Archive& a);
};

// A server token uploaded: its OAuth credentials (JSON) sealed, bound to "ade-token:<token>".
struct AdeTokenStored {
  static constexpr std::string_view kType = "AdeTokenStored";
  static constexpr int kVersion = 1;
  std::string token;
  std::string credentials_sealed;
  std::string access_token_expiry;  // RFC 3339, as Apple gave it; may be empty
  template <class Archive>
  void serialize(Archive& a);
};

// One device record as the ADE service sent it (op_type/op_date only from a sync).
struct AdeDevice {
  std::string serial_number;
  std::string model;
  std::string description;
  std::string color;
  std::string asset_tag;
  std::string os;
  std::string device_family;
  std::string profile_status;  // empty, assigned, pushed, removed
  std::string profile_uuid;
  std::string profile_assign_time;
  std::string profile_push_time;
  std::string device_assigned_date;
  std::string device_assigned_by;
  std::string op_type;  // added, modified, deleted
  std::string op_date;
  template <class Archive>
  void serialize(Archive& a);
};

// One page of a fetch (every device, `phase` "fetch") or a sync (changes since the cursor,
// "sync"), with the cursor it reached: the next call starts there, on any node, after a replay.
// A page of many devices is several events: all but the last with no cursor and more to follow.
// `from_cursor` is where the call started ("" for a fetch from the start): a page from another
// start than where the token stands (two syncers for a moment) changes nothing.
struct AdeDevicesSynced {
  static constexpr std::string_view kType = "AdeDevicesSynced";
  static constexpr int kVersion = 1;
  std::string token;
  std::string phase;
  std::string from_cursor;
  std::string cursor;
  bool more_to_follow = false;
  bool continues = false;  // a part of a page after its first (a full fetch begins on a first)
  std::string fetched_until;
  std::vector<AdeDevice> devices;
  template <class Archive>
  void serialize(Archive& a);
};

// A call to the ADE service failed. `outcome`: "retry" (later, after retry_after_seconds when
// given), "refetch" (the cursor expired or is invalid: a full fetch starts again), "sync" (a
// fetch's cursor is exhausted: syncing continues from it) or "stopped" (the token was rejected
// or the terms are not accepted: nothing more until a new token is uploaded).
struct AdeSyncFailed {
  static constexpr std::string_view kType = "AdeSyncFailed";
  static constexpr int kVersion = 1;
  std::string token;
  std::string call;
  int http_status = 0;  // 0: no answer
  std::string reason;
  std::string outcome;
  int64_t retry_after_seconds = 0;
  // Where the failed call started (fetch, sync): a cursor outcome counts only from there.
  std::string from_cursor;
  template <class Archive>
  void serialize(Archive& a);
};

// An ADE profile stored through the admin API, by the name devices are assigned to: Apple's
// profile fields as JSON (Cairn fills in the enrollment URL and the certificates to trust).
struct AdeProfileStored {
  static constexpr std::string_view kType = "AdeProfileStored";
  static constexpr int kVersion = 1;
  std::string profile;
  std::string content;
  template <class Archive>
  void serialize(Archive& a);
};

// The profile defined at the ADE service for a token (profile UUIDs are per MDM server).
struct AdeProfileDefined {
  static constexpr std::string_view kType = "AdeProfileDefined";
  static constexpr int kVersion = 1;
  std::string token;
  std::string profile;
  std::string profile_uuid;
  std::string content_sha256;  // of the content defined: a changed profile is defined again
  template <class Archive>
  void serialize(Archive& a);
};

// Which profile a token's new devices get: the first rule matching the device's ADE fields, else
// the default (none: they wait). `rules` is JSON ([{"profile", "match": {field: pattern}}]).
struct AdeAssignmentSet {
  static constexpr std::string_view kType = "AdeAssignmentSet";
  static constexpr int kVersion = 1;
  std::string token;
  std::string default_profile;
  std::string rules;
  template <class Archive>
  void serialize(Archive& a);
};

struct AdeDeviceOutcome {
  std::string serial_number;
  std::string status;  // SUCCESS, NOT_ACCESSIBLE, FAILED, THROTTLED
  template <class Archive>
  void serialize(Archive& a);
};

// Devices assigned a profile at the ADE service, with Apple's answer per device.
struct AdeProfileAssigned {
  static constexpr std::string_view kType = "AdeProfileAssigned";
  static constexpr int kVersion = 1;
  std::string token;
  std::string profile;
  std::string profile_uuid;
  std::vector<AdeDeviceOutcome> devices;
  int64_t retry_after_seconds = 0;
  template <class Archive>
  void serialize(Archive& a);
};

// An administrator took devices out of automatic assignment (`held`: their profile is removed at
// Apple and no rule gives them another), or gave them back to the rules.
struct AdeDevicesHeld {
  static constexpr std::string_view kType = "AdeDevicesHeld";
  static constexpr int kVersion = 1;
  std::vector<std::string> serial_numbers;
  bool held = false;
  template <class Archive>
  void serialize(Archive& a);
};

// Profiles removed at the ADE service from held devices, with Apple's answer per device.
struct AdeProfileRemoved {
  static constexpr std::string_view kType = "AdeProfileRemoved";
  static constexpr int kVersion = 1;
  std::string token;
  std::vector<AdeDeviceOutcome> devices;
  template <class Archive>
  void serialize(Archive& a);
};

// A device at first boot sent its signed MachineInfo to the profile's URL and was given an
// enrollment profile (refusals are EnrollmentRefused, stage "ade").
struct AdeEnrollmentRequested {
  static constexpr std::string_view kType = "AdeEnrollmentRequested";
  static constexpr int kVersion = 1;
  std::string serial_number;
  std::string udid;
  std::string product;
  std::string os_version;
  std::string token;
  std::string profile;
  std::string signer_fingerprint;
  std::string enrollment_profile;  // the PayloadUUID of the enrollment profile it was given
  // Whether that profile's identity may take over the UDID (a new device, or the same one set up
  // again); only then is the UDID recorded as this serial number's.
  bool udid_bound = false;
  template <class Archive>
  void serialize(Archive& a);
};

// Webhooks (webhook/deliverer.hpp). An administrator added or changed an endpoint: where its
// deliveries are POSTed, which topics it takes (empty: all), and its HMAC secret, sealed
// ("webhook-secret:<name>"; empty: deliveries go unsigned). Only events after this one reach it.
struct WebhookEndpointSet {
  static constexpr std::string_view kType = "WebhookEndpointSet";
  static constexpr int kVersion = 1;
  std::string name;
  std::string url;
  std::vector<std::string> topics;
  std::string secret_sealed;
  template <class Archive>
  void serialize(Archive& a);
};

// The endpoint is gone: what waited for it is dropped.
struct WebhookEndpointRemoved {
  static constexpr std::string_view kType = "WebhookEndpointRemoved";
  static constexpr int kVersion = 1;
  std::string name;
  template <class Archive>
  void serialize(Archive& a);
};

// A delivery given up: the receiver refused it (an answer other than 2xx that retrying will not
// change), or kept failing past the deliverer's give-up time. `partition`/`offset` locate the
// event it carried, for a redelivery.
struct WebhookDeadLettered {
  static constexpr std::string_view kType = "WebhookDeadLettered";
  static constexpr int kVersion = 1;
  std::string endpoint;
  std::string event_id;
  std::string topic;
  std::string event_device;
  int partition = 0;
  int64_t offset = 0;
  int attempts = 0;
  int http_status = 0;  // the last answer's; 0: no answer (connection, timeout)
  std::string reason;
  std::string first_attempt_at;  // RFC 3339
  template <class Archive>
  void serialize(Archive& a);
};

// A dead letter's place in the log, named again for a redelivery.
struct WebhookDeliveryRef {
  std::string event_id;
  int partition = 0;
  int64_t offset = 0;
  template <class Archive>
  void serialize(Archive& a);
};

// An administrator asked for dead letters to be delivered again (they leave the dead-letter list
// and queue behind what the endpoint waits for now).
struct WebhookRedeliveryRequested {
  static constexpr std::string_view kType = "WebhookRedeliveryRequested";
  static constexpr int kVersion = 1;
  std::string endpoint;
  std::vector<WebhookDeliveryRef> deliveries;
  template <class Archive>
  void serialize(Archive& a);
};

// Progress of the deliverer that owns `partition` (Kafka: deliverers share partitions like
// dispatchers): every delivery of an event before `below_offset` is settled (delivered or dead
// lettered), so the standbys drop their copies and a takeover repeats only what came after.
struct WebhooksDelivered {
  static constexpr std::string_view kType = "WebhooksDelivered";
  static constexpr int kVersion = 1;
  std::string endpoint;
  int partition = 0;
  int64_t below_offset = 0;
  template <class Archive>
  void serialize(Archive& a);
};

// A signed statement of where a partition's audit chain stood (audit/, docs/audit.md): the chain
// after the record at next_offset - 1, and the Merkle root over the records' digests from
// first_offset to next_offset - 1. Signed with an Ed25519 key derived from the keyring.
struct AuditCheckpointed {
  static constexpr std::string_view kType = "AuditCheckpointed";
  static constexpr int kVersion = 1;
  int partition = 0;
  int64_t first_offset = 0;
  int64_t next_offset = 0;
  std::string chain;        // hex
  std::string merkle_root;  // hex
  std::string key_id;       // first 8 bytes of SHA-256 of the public key, hex
  std::string signature;    // base64 Ed25519 over audit::statement()
  template <class Archive>
  void serialize(Archive& a);
};

using Payload = std::variant<
    DeviceAuthenticated, TokenUpdated, DeviceCheckedOut, CommandEnqueued, CommandDelivered,
    CommandReported, PushRequested, MessageRejected, PushCertificateUploaded, PushSent, PushFailed,
    PushTokenInvalidated, DeviceInactive, CertificateIssued, EnrollmentRefused, ProfileIssued,
    EnrollmentInvited, EnrollmentRequested, IdentityBound, ReenrollmentAllowed, BootstrapTokenSet,
    BootstrapTokenReturned, UserAuthenticated, DeclarationStored, DeclarationDeleted,
    SetDeclarationChanged, EnrollmentSetChanged, DeclarativeRequested, StatusReported,
    AdeTokenCertificateCreated, AdeTokenStored, AdeDevicesSynced, AdeSyncFailed, AdeProfileStored,
    AdeProfileDefined, AdeAssignmentSet, AdeProfileAssigned, AdeEnrollmentRequested, AdeDevicesHeld,
    AdeProfileRemoved, WebhookEndpointSet, WebhookEndpointRemoved, WebhookDeadLettered,
    WebhookRedeliveryRequested, WebhooksDelivered, CommandCancelled, AuditCheckpointed>;

struct Event {
  std::string id;
  std::string time;
  std::string device;
  std::string node;
  std::string actor;
  Payload payload;
};

// A new event: a fresh id (UUID) and the current time. Only writers call this (ingest, the
// dispatcher); projectors take everything from the events they read.
Event make_event(std::string device, std::string node, std::string actor, Payload payload);

std::string_view type_name(const Payload& payload);
int type_version(const Payload& payload);

std::string encode(const Event& event);  // one line of JSON
// The log record of an event: keyed by its device (ordering per device; a user channel's events by
// the device it is on, so that a device and its users' channels stay in order with each other),
// its type as the header.
eventlog::RecordToAppend to_record(const Event& event);
// Whether decode() copies the devices' verbatim message bodies. The projection never reads them
// (they stay in the log for audit), and they are most of an event's bytes.
enum class Bodies { kKeep, kSkip };
// Throws std::runtime_error for malformed JSON or an unknown type/version.
Event decode(std::string_view json, Bodies bodies = Bodies::kKeep);

// Builds the RawMessage for a body as received.
RawMessage raw_message(std::string_view body);

}  // namespace cairn::events
