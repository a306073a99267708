// The deliverer's own RocksDB (<data>/webhooks): what it knows of the endpoints and what each one
// still has to be sent, written in the same batch as the log position it was derived from
// (store/database.hpp), so a crash repeats deliveries and never loses one. Keys:
//   e/<endpoint>           → Endpoint
//   o/<endpoint>/<seq, 16 hex> → Delivery (the endpoint's outbox, in the order events were read)
//   n                      → the next seq (16 hex)
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::webhook {

// 2: deliveries carry the position they were queued from (queued_partition, queued_offset).
inline constexpr std::string_view kStoreLayout = "2";

struct Endpoint {
  std::string name;
  std::string url;
  std::vector<std::string> topics;  // empty: all
  std::string secret_sealed;        // empty: unsigned

  bool takes(std::string_view topic) const {
    if (topics.empty()) return true;
    for (const auto& t : topics)
      if (t == topic) return true;
    return false;
  }
  template <class Archive>
  void serialize(Archive& a) {
    a(name, url, topics, secret_sealed);
  }
};

struct Delivery {
  std::string event_id;
  std::string topic;
  std::string device;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string body;
  int32_t attempts = 0;
  int64_t first_attempt_ms = 0;
  int32_t last_status = 0;
  std::string last_reason;
  // The record it was queued from: the event itself, or the redelivery request naming it.
  // Ownership and recorded progress go by this position, not the event's: a redelivered event
  // lies below progress already recorded, and a standby must not drop its copy by it.
  int32_t queued_partition = 0;
  int64_t queued_offset = 0;

  template <class Archive>
  void serialize(Archive& a) {
    a(event_id, topic, device, partition, offset, body, attempts, first_attempt_ms, last_status,
      last_reason, queued_partition, queued_offset);
  }
};

namespace keys {
inline constexpr std::string_view kEndpointPrefix = "e/";
inline constexpr std::string_view kNextSeq = "n";
inline std::string endpoint(std::string_view name) {
  return std::string(kEndpointPrefix) + std::string(name);
}
inline std::string outbox_prefix(std::string_view endpoint) {
  return "o/" + std::string(endpoint) + "/";
}
inline std::string hex16(uint64_t n) {  // sorts as the number
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(n));
  return hex;
}
inline std::string outbox(std::string_view endpoint, uint64_t seq) {
  return outbox_prefix(endpoint) + hex16(seq);
}
}  // namespace keys

}  // namespace cairn::webhook
