// The dispatcher's own state, derived from the log and kept in a store of its own
// (<data>/dispatcher, store/database.hpp), with its log position in the same write batch. Its
// keys are words, so they are never mistaken for the projection's one-letter prefixes:
//   target/<udid>      → DevicePushTarget: where the device's pushes go (its latest TokenUpdate)
//   outbox/<udid>      → PendingPush: at most one pending push per device (coalescing)
//   sent/<udid>        → the time (ms since the epoch) of the last push APNs accepted, until the
//                        device next reports: while it stands, new commands need no new push
//   wanted/<udid>      → "": a push was wanted while the device had no usable token; its next
//                        TokenUpdate queues it
//   sandbox/<udid>     → "": the device enrolled with UseDevelopmentAPNS (its Authenticate says
//                        so): its pushes go to APNs's sandbox
//   certificate/<topic> → TopicCertificate (the private key still sealed)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::dispatcher {

inline constexpr std::string_view kStoreLayout = "dispatcher-5";

struct DevicePushTarget {
  std::string topic;
  std::string token_hex;
  std::string push_magic;
  bool token_invalid = false;  // APNs rejected it for good; cleared by the next TokenUpdate
  int64_t last_heard_ms = 0;   // the time of its latest message (from the event)
  bool inactive = false;       // DeviceInactive recorded; cleared by its next message
  int32_t partition = 0;       // of the device's events: whoever owns it pushes the device
  bool sandbox = false;        // APNs's development environment
  template <class Archive>
  void serialize(Archive& a) {
    a(topic, token_hex, push_magic, token_invalid, last_heard_ms, inactive, partition, sandbox);
  }
};

struct PendingPush {
  std::string topic;
  std::string token_hex;
  std::string push_magic;
  int32_t attempts = 0;   // failed attempts so far
  int64_t due_ms = 0;     // not before (ms since the epoch): backoff after failures
  int32_t partition = 0;  // of the device's events
  bool sandbox = false;
  template <class Archive>
  void serialize(Archive& a) {
    a(topic, token_hex, push_magic, attempts, due_ms, partition, sandbox);
  }
};

struct TopicCertificate {
  std::string certificate_pem;
  std::string private_key_sealed;
  template <class Archive>
  void serialize(Archive& a) {
    a(certificate_pem, private_key_sealed);
  }
};

// An outbox entry for `target`, due at `now_ms`.
inline PendingPush pending_for(const DevicePushTarget& target, int64_t now_ms) {
  return PendingPush{target.topic, target.token_hex, target.push_magic, 0,
                     now_ms,       target.partition, target.sandbox};
}

namespace keys {
inline constexpr std::string_view kTargetPrefix = "target/";
inline constexpr std::string_view kOutboxPrefix = "outbox/";
inline constexpr std::string_view kCertificatePrefix = "certificate/";
inline std::string target(std::string_view udid) {
  return std::string(kTargetPrefix) + std::string(udid);
}
inline std::string pending(std::string_view udid) {
  return std::string(kOutboxPrefix) + std::string(udid);
}
inline std::string last_sent(std::string_view udid) {
  return "sent/" + std::string(udid);
}
inline std::string wanted(std::string_view udid) {
  return "wanted/" + std::string(udid);
}
inline std::string development(std::string_view udid) {
  return "sandbox/" + std::string(udid);
}
inline std::string certificate(std::string_view topic) {
  return std::string(kCertificatePrefix) + std::string(topic);
}
}  // namespace keys

}  // namespace cairn::dispatcher
