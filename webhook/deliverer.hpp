// The webhook deliverer: a consumer of the log that POSTs every device message (check-ins and
// command results, webhook/body.hpp) to each endpoint that takes its topic, durably.
//
// consume() reads the log past its stored position: endpoint changes (WebhookEndpointSet and
// Removed), redeliveries asked for, and the device messages, each put in the outbox of every
// endpoint taking it — in the same RocksDB batch as the position (webhook/outbox.hpp). So a
// crash, even kill -9, repeats deliveries and loses none: at least once, receivers dedupe by
// event_id. Each endpoint has a sender thread of its own (a slow receiver delays only itself)
// that sends its outbox in order, one POST at a time over a kept-alive connection:
//   2xx                  delivered: out of the outbox;
//   400, 413, 415, 422   the receiver faults this body (retrying will not change it):
//                        dead-lettered at once, and the next one goes;
//   anything else, or no answer (connection, timeout)
//                        the receiver is in trouble or misconfigured (a 5xx, 429, a redirect,
//                        401/403/404): the endpoint pauses (exponential backoff with jitter) and
//                        resumes with the same delivery, so a device's messages arrive in order;
//                        past `give_up_after` since its first attempt the delivery is
//                        dead-lettered instead.
// What a receiver answers is read and dropped, cut off past 64 KiB or three timeouts.
// A dead letter is an event (WebhookDeadLettered: listed by the admin API, redelivered on
// request). On Kafka the deliverers of all dispatcher nodes consume every partition; the owner of
// a partition (the dispatchers' group) sends its deliveries and records its progress
// (WebhooksDelivered), by which the others drop their copies: a takeover repeats only what came
// after the last progress.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics.hpp"
#include "crypto/secret_box.hpp"
#include "eventlog/event_log.hpp"
#include "schemas/events.hpp"
#include "store/database.hpp"
#include "webhook/outbox.hpp"

namespace cairn::webhook {

struct DelivererOptions {
  std::string node = "webhooks";
  std::chrono::milliseconds timeout{10000};  // connect, and each read or write of a POST
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{5 * 60 * 1000};
  // A delivery failing this long (the receiver down or stalling) is dead-lettered.
  std::chrono::milliseconds give_up_after{std::chrono::hours(24)};
  std::string ca_file;  // TLS receivers: the CAs they chain to (empty: the system's)
  // Whether this deliverer sends the deliveries of a partition (see the dispatcher's `owns`).
  std::function<bool(PartitionId)> owns = [](PartitionId) { return true; };
  // Record WebhooksDelivered this often, for standby deliverers (Kafka); zero: never (one node).
  std::chrono::milliseconds progress_every{0};
  std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now;
};

class Deliverer {
 public:
  // Counts in `metrics`: cairn_webhook_deliveries_total{endpoint,outcome} (delivered, failed,
  // dead_lettered) and the gauge cairn_webhook_outbox{endpoint}.
  Deliverer(eventlog::EventLog& log, store::Database& store, const crypto::SecretBox& secrets,
            Metrics& metrics, DelivererOptions options);
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  void start();
  void stop();

  // Reads what the log holds past the stored position (waiting up to `wait`) into the outboxes.
  // Returns the number of records read.
  size_t consume(std::chrono::milliseconds wait);
  // Deliveries waiting for `endpoint` (due or paused).
  size_t pending(const std::string& endpoint) const;

 private:
  class Sender;
  struct ConsumeRound;
  void apply(const eventlog::LogRecord& record, ConsumeRound& round);
  // `e` (at `position`) into the outbox of each endpoint taking `topic` (or of `only_endpoint`),
  // as queued by the record at `queued_at` (itself, or a redelivery request).
  void queue(const events::Event& e, std::string_view topic, LogPosition position,
             LogPosition queued_at, ConsumeRound& round, const std::string& only_endpoint = "");
  void set_endpoint(const events::WebhookEndpointSet& p, ConsumeRound& round);
  void remove_endpoint(const std::string& name, ConsumeRound& round);
  void redeliver(const events::WebhookRedeliveryRequested& p, LogPosition requested_at,
                 ConsumeRound& round);
  void drop_settled(const events::WebhooksDelivered& p, ConsumeRound& round);
  void record_progress();
  void start_sender(const Endpoint& endpoint);
  void run();

  eventlog::EventLog& log_;
  store::Database& store_;
  const crypto::SecretBox& secrets_;
  Metrics& metrics_;
  DelivererOptions options_;
  uint64_t next_seq_ = 0;
  mutable std::mutex senders_mu_;  // the map; each sender is thread-safe itself
  std::map<std::string, std::unique_ptr<Sender>> senders_;
  std::map<std::pair<std::string, int32_t>, int64_t> progress_recorded_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace cairn::webhook
