// The projection's key layout in RocksDB (one keyspace, prefixes by kind):
//   d/<udid>                    → DeviceRecord (also d/<udid>:<user>: a user channel on it)
//   c/<cert fingerprint>/<udid> → "" (that device is bound to that certificate)
//   r/<udid>/<cert fingerprint> → "" (an identity bound to the device, not used yet: IdentityBound)
//   q/<udid>/<seq, 16 hex>      → command UUID: the hot queue, FIFO by log offset
//   m/<udid>/<command uuid>     → CommandRecord (history; prunable, the log keeps everything)
//   b/<udid>/<command uuid>     → the command plist, while the command is queued
//   t/<udid>                    → the device's escrowed UnlockToken, sealed (SecretBox)
//   a/<udid>                    → the device's escrowed bootstrap token, sealed (SecretBox)
//   k/<topic>                   → PushCertificateRecord
//   i/<not after>/<fingerprint> → IssuedIdentityRecord (RFC 3339 sorts as time: expiry order)
//   n/<SHA-256 of the token>    → InvitationRecord (OTA enrollment)
//   s/<SHA-256 of challenge>    → ScepChallengeRecord (a profile's one-time SCEP challenge)
//   e/<profile PayloadUUID>     → EnrollmentProfileRecord (joined to devices when read: the
//                                 profile and the device's events live in different partitions)
//   u/<command uuid>/<udid>     → "" (which devices a command went to)
//   g/<state>/<enqueued at>/<udid>/<command uuid> → "" (commands by state across the fleet,
//                                 oldest first: GET /v1/commands?status=)
//   f/<udid>/<field>            → InventoryRecord (projector/inventory: latest result values)
//   x/<filter>=<value>/<udid>   → "" (inventory filter index, DDM status.<item> filters too;
//                                  '/' and '%' in values escaped)
// Declarative device management (projector/declarative.hpp):
//   D/<identifier>              → DeclarationRecord
//   S/<set>/<identifier>        → "" (the set holds the declaration)
//   P/<identifier>/<set>        → "" (the same, by declaration)
//   N/<identifier>/<referrer>   → "" (another declaration names this one)
//   E/<enrollment>/<set>        → "" (the set is assigned to the enrollment: a device or a user
//                                 channel, whose events are its device's)
//   M/<set>/<enrollment>        → "" (the same, by set)
//   Z/<enrollment>/<identifier> → DeclarationStatusRecord
//   V/<enrollment>/<item path>  → StatusValueRecord
//   G/<enrollment>              → DeclarativeEnrollmentRecord
// (D, S, P and N from device-less events; E, M, Z, V and G from the enrollment's device's.)
// Automated Device Enrollment (projector/ade.hpp), all from device-less events:
//   At/<token>                  → AdeTokenRecord
//   Ap/<profile>                → AdeProfileRecord
//   Aj/<token>/<profile>        → AdeDefinedProfileRecord
//   Ad/<serial number>          → AdeDeviceRecord
//   Aw/<token>/<serial number>  → "" (the device has no profile at Apple: the syncer assigns one)
//   Am/<token>/<serial number>  → "" (the token's devices, for a full fetch to release the unseen)
//   Ar/<token>/<serial number>  → "" (a held device whose profile is still at Apple: to remove)
// Webhooks (projector/webhooks.hpp), from device-less events:
//   Wn/<endpoint>               → WebhookEndpointRecord
//   Wd/<endpoint>/<partition>/<offset> → WebhookDeadLetterRecord
// plus the store's own keys (store/database.hpp): the layout version (kLayoutVersion) and the
// next log offset to apply per partition, in the same batch as the state it derived.
// UDIDs and command UUIDs are restricted to [A-Za-z0-9._-] at ingest (a user channel adds ':' and
// a user of [A-Za-z0-9._@+-]), so '/' separates safely.
//
// Every key belongs to one device's events (one partition of the log: its user channels' events
// are keyed by the device, protocol::Channel) or to device-less events
// (push certificates: one partition too), so the projection does not depend on how partitions
// interleave: a live replica and `cairn replay` (partition by partition) build the same bytes.
// That is why a certificate binding is keyed by certificate *and* device: two devices claiming
// one certificate from different partitions leave both bindings, in any order.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cairn::projector::keys {

// Bump when a record's encoding or the key layout changes: older projections are then refused
// at open (rebuild from the log) instead of being misread.
inline constexpr std::string_view kLayoutVersion = "20";

inline std::string device(std::string_view udid) {
  return "d/" + std::string(udid);
}
// The device's user channels ("<udid>:<user>", protocol::Channel), which sort right after it.
inline std::string user_channels_prefix(std::string_view udid) {
  return device(udid) + ":";
}
inline std::string certificate_prefix(std::string_view fingerprint) {
  return "c/" + std::string(fingerprint) + "/";
}
inline std::string certificate(std::string_view fingerprint, std::string_view udid) {
  return certificate_prefix(fingerprint) + std::string(udid);
}
inline std::string pending_identity_prefix(std::string_view udid) {
  return "r/" + std::string(udid) + "/";
}
inline std::string pending_identity(std::string_view udid, std::string_view fingerprint) {
  return pending_identity_prefix(udid) + std::string(fingerprint);
}
inline std::string inventory_prefix(std::string_view udid) {
  return "f/" + std::string(udid) + "/";
}
inline std::string inventory(std::string_view udid, std::string_view field) {
  return inventory_prefix(udid) + std::string(field);
}
inline std::string inventory_index_prefix(std::string_view filter, std::string_view value) {
  std::string out = "x/" + std::string(filter) + "=";
  for (char c : value)
    out += c == '/' ? std::string("%2F") : c == '%' ? std::string("%25") : std::string(1, c);
  return out + "/";
}
inline std::string inventory_index(std::string_view filter, std::string_view value,
                                   std::string_view udid) {
  return inventory_index_prefix(filter, value) + std::string(udid);
}
inline std::string queue_prefix(std::string_view udid) {
  return "q/" + std::string(udid) + "/";
}
inline std::string queue_entry(std::string_view udid, int64_t sequence) {
  char seq[17];
  std::snprintf(seq, sizeof seq, "%016llx", static_cast<unsigned long long>(sequence));
  return queue_prefix(udid) + seq;
}
inline std::string command_prefix(std::string_view udid) {
  return "m/" + std::string(udid) + "/";
}
inline std::string command(std::string_view udid, std::string_view uuid) {
  return command_prefix(udid) + std::string(uuid);
}
// Bodies and secrets live beside the records they belong to, not in them: the device and command
// records are rewritten on every poll and result, and an UnlockToken (~2.7 KiB sealed) or an
// InstallProfile body copied each time cost more than everything else the projection does.
inline std::string command_body(std::string_view udid, std::string_view uuid) {
  return "b/" + std::string(udid) + "/" + std::string(uuid);
}
inline std::string unlock_token(std::string_view udid) {
  return "t/" + std::string(udid);
}
inline std::string bootstrap_token(std::string_view udid) {
  return "a/" + std::string(udid);
}
inline std::string push_certificate(std::string_view topic) {
  return "k/" + std::string(topic);
}
inline constexpr std::string_view kIssuedIdentityPrefix = "i/";
inline std::string issued_identity(std::string_view not_after, std::string_view fingerprint) {
  return std::string(kIssuedIdentityPrefix) + std::string(not_after) + "/" +
         std::string(fingerprint);
}
inline std::string enrollment_profile(std::string_view profile_uuid) {
  return "e/" + std::string(profile_uuid);
}
inline std::string scep_challenge(std::string_view challenge_sha256) {
  return "s/" + std::string(challenge_sha256);
}
inline std::string invitation(std::string_view token_sha256) {
  return "n/" + std::string(token_sha256);
}
inline std::string targets_prefix(std::string_view uuid) {
  return "u/" + std::string(uuid) + "/";
}
inline std::string target(std::string_view uuid, std::string_view udid) {
  return targets_prefix(uuid) + std::string(udid);
}
inline std::string commands_by_state_prefix(std::string_view state) {
  return "g/" + std::string(state) + "/";
}
inline std::string command_by_state(std::string_view state, std::string_view enqueued_at,
                                    std::string_view udid, std::string_view uuid) {
  return commands_by_state_prefix(state) + std::string(enqueued_at) + "/" + std::string(udid) +
         "/" + std::string(uuid);
}

// Declarative device management: keys of one kind and one or two names, each name ending at '/'.
// (Names are identifiers, set names and channel IDs: no '/'; a status item path is last.)
inline std::string ddm(char kind, std::string_view first) {
  return std::string(1, kind) + "/" + std::string(first);
}
inline std::string ddm_prefix(char kind, std::string_view first) {
  return ddm(kind, first) + "/";
}
inline std::string ddm(char kind, std::string_view first, std::string_view second) {
  return ddm_prefix(kind, first) + std::string(second);
}
inline constexpr char kDeclaration = 'D', kSetDeclaration = 'S', kDeclarationSet = 'P',
                      kReferrer = 'N', kEnrollmentSet = 'E', kSetEnrollment = 'M',
                      kDeclarationStatus = 'Z', kStatusValue = 'V', kDeclarativeEnrollment = 'G';
inline constexpr std::string_view kDeclarationPrefix = "D/";
inline constexpr std::string_view kSetDeclarationPrefix = "S/";

// Automated Device Enrollment. Token and profile names are [A-Za-z0-9._-], serial numbers
// [A-Za-z0-9] (checked before they reach an event).
inline constexpr std::string_view kAdeTokenPrefix = "At/", kAdeProfilePrefix = "Ap/",
                                  kAdeDevicePrefix = "Ad/";
inline std::string ade_token(std::string_view token) {
  return std::string(kAdeTokenPrefix) + std::string(token);
}
inline std::string ade_profile(std::string_view profile) {
  return std::string(kAdeProfilePrefix) + std::string(profile);
}
inline std::string ade_defined_profile(std::string_view token, std::string_view profile) {
  return "Aj/" + std::string(token) + "/" + std::string(profile);
}
inline std::string ade_device(std::string_view serial) {
  return std::string(kAdeDevicePrefix) + std::string(serial);
}
inline std::string ade_member_prefix(std::string_view token) {
  return "Am/" + std::string(token) + "/";
}
inline std::string ade_member(std::string_view token, std::string_view serial) {
  return ade_member_prefix(token) + std::string(serial);
}
inline std::string ade_removal_prefix(std::string_view token) {
  return "Ar/" + std::string(token) + "/";
}
inline std::string ade_removal(std::string_view token, std::string_view serial) {
  return ade_removal_prefix(token) + std::string(serial);
}
inline std::string ade_waiting_prefix(std::string_view token) {
  return "Aw/" + std::string(token) + "/";
}
inline std::string ade_waiting(std::string_view token, std::string_view serial) {
  return ade_waiting_prefix(token) + std::string(serial);
}

}  // namespace cairn::projector::keys
