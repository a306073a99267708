// Webhooks in the projection, for the admin API on any node: the endpoints (no secrets) and each
// one's dead letters. Delivery itself is the deliverer's (webhook/deliverer.hpp), from its own
// store. Every webhook event is device-less (one partition, in log order). Keys:
//   Wn/<endpoint>                                   → WebhookEndpointRecord
//   Wd/<endpoint>/<partition, 8 hex>/<offset, 16 hex> → WebhookDeadLetterRecord (log order)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projector/state.hpp"
#include "schemas/events.hpp"
#include "store/reader.hpp"

namespace cairn::projector {

struct WebhookEndpointRecord {
  std::string name;
  std::string url;
  std::vector<std::string> topics;  // empty: all
  bool signed_deliveries = false;   // a secret is set (it stays sealed in the log)
  std::string updated_at;
  std::string updated_by;

  template <class Archive>
  void serialize(Archive& a) {
    a(name, url, topics, signed_deliveries, updated_at, updated_by);
  }
};

struct WebhookDeadLetterRecord {
  events::WebhookDeadLettered delivery;
  std::string dead_at;

  template <class Archive>
  void serialize(Archive& a) {
    a(delivery.endpoint, delivery.event_id, delivery.topic, delivery.event_device,
      delivery.partition, delivery.offset, delivery.attempts, delivery.http_status, delivery.reason,
      delivery.first_attempt_at, dead_at);
  }
};

// Endpoint names: [A-Za-z0-9._-]{1,64}.
bool is_webhook_name(std::string_view name);

void apply_webhook(State& state, const events::Event& e, const events::WebhookEndpointSet& p);
void apply_webhook(State& state, const events::Event& e, const events::WebhookEndpointRemoved& p);
void apply_webhook(State& state, const events::Event& e, const events::WebhookDeadLettered& p);
void apply_webhook(State& state, const events::Event& e,
                   const events::WebhookRedeliveryRequested& p);
void apply_webhook(State& state, const events::Event& e, const events::WebhooksDelivered& p);

class WebhookReader {
 public:
  explicit WebhookReader(const store::Reader& store) : store_(store) {}
  std::optional<WebhookEndpointRecord> endpoint(const std::string& name) const;
  std::vector<WebhookEndpointRecord> endpoints() const;  // by name
  // The endpoint's dead letters in log order, after the one named by `after` (a cursor from a
  // previous page: "<partition>/<offset>"; empty: from the start), at most `limit`.
  std::vector<WebhookDeadLetterRecord> dead_letters(const std::string& endpoint,
                                                    const std::string& after, size_t limit) const;

 private:
  const store::Reader& store_;
};

// The cursor naming a dead letter in a page (what `after` takes).
std::string dead_letter_cursor(const events::WebhookDeadLettered& d);

}  // namespace cairn::projector
