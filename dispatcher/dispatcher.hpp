// The dispatcher: a consumer of the log that turns CommandEnqueued (unless nopush) and
// PushRequested events into APNs pushes, and records each outcome as an event (PushSent,
// PushFailed, PushTokenInvalidated).
//
// Two steps, one thread. consume() reads the log and derives where each device's pushes go
// (TokenUpdated), which certificate each topic uses (PushCertificateUploaded), and puts a push
// for each device that needs one into a durable outbox — in the same RocksDB write batch as the
// log position, so after a crash nothing read is lost and nothing is read twice. send_due() sends
// what the outbox holds: an entry leaves it only with an outcome (accepted, or refused for good);
// transient failures stay with exponential backoff and jitter. Pushes are coalesced per device:
// one outbox entry at most, and none while an accepted push is outstanding (sent, and the device
// has not reported since) within the coalescing window. A duplicate push is harmless; a lost one
// leaves a device with a queued command it never hears about.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "common/metrics.hpp"
#include "crypto/secret_box.hpp"
#include "dispatcher/push_state.hpp"
#include "dispatcher/pusher.hpp"
#include "eventlog/event_log.hpp"
#include "schemas/events.hpp"
#include "store/database.hpp"

namespace cairn::dispatcher {

struct DispatcherOptions {
  std::string node = "dispatcher";
  // apns-expiration = now + this: how long Apple keeps the push for an offline device.
  std::chrono::seconds push_expiration{7 * 24 * 3600};
  // A device pushed this recently, and silent since, is not pushed again for new commands.
  std::chrono::seconds coalesce_window{60};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{5 * 60 * 1000};
  // After 403 (a certificate APNs refuses) or with no certificate for the topic: wait this long.
  std::chrono::milliseconds certificate_pause{5 * 60 * 1000};
  size_t max_pushes_per_round = 2000;  // each with its own timeout: keep rounds short
  // Liveness: a device not heard from for `repush_after` is pushed again (at most that often);
  // one silent for `inactive_after` is recorded as DeviceInactive. Zero turns either off.
  std::chrono::milliseconds repush_after{std::chrono::hours(24)};
  std::chrono::milliseconds inactive_after{std::chrono::hours(24 * 30)};
  std::chrono::milliseconds sweep_every{std::chrono::minutes(1)};
  size_t max_sweep_pushes = 1000;  // per sweep: a fleet that went quiet must not flood APNs
  // Whether this dispatcher pushes the devices of a partition. Every dispatcher consumes every
  // partition (its state stays complete, ready for a takeover) but only the owner sends and
  // sweeps; with several dispatchers a Kafka consumer group decides (KafkaGroupMembership).
  std::function<bool(PartitionId)> owns = [](PartitionId) { return true; };
  // The time every decision above is measured against (tests move it forward).
  std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now;
};

class Dispatcher {
 public:
  // Counts outcomes in `metrics` (cairn_pushes_total{outcome},
  // cairn_devices_marked_inactive_total).
  Dispatcher(eventlog::EventLog& log, store::Database& store, const crypto::SecretBox& secrets,
             Pusher& pusher, Metrics& metrics, DispatcherOptions options);
  ~Dispatcher();

  void start();
  void stop();

  // Reads what the log holds past the stored position (waiting up to `wait` for more) into the
  // state and the outbox. Returns the number of records read.
  size_t consume(std::chrono::milliseconds wait);
  // Sends the pushes that are due, records their outcomes. Returns the number of attempts.
  size_t send_due();
  // The liveness sweep: queues pushes for silent devices (at most max_sweep_pushes, continuing
  // where the last sweep stopped) and records DeviceInactive. Returns the pushes queued.
  size_t sweep();
  // Pushes waiting in the outbox (due or backing off).
  size_t pending() const;

 private:
  // The outbox entries due now, by topic (at most max_pushes_per_round), skipping other
  // dispatchers' partitions and topics whose breaker is open; sets next_due_ms_.
  using DueByTopic = std::map<std::string, std::vector<std::pair<std::string, PendingPush>>>;
  DueByTopic collect_due(int64_t now);
  // One send_due() round: the state it changes and the outcomes to record, written together.
  struct Round {
    Round(const store::Database& db, int64_t now_ms) : state(db), now(now_ms) {}
    store::Batch state;
    int64_t now;
    std::vector<events::Event> outcomes;
    uint64_t sent = 0, failed = 0, invalidated = 0;
  };
  // Sends one topic's due pushes, settles each, and opens or closes the topic's breaker.
  void send_topic(const std::string& topic,
                  std::vector<std::pair<std::string, PendingPush>>& entries, Round& round);
  // One push's outcome: out of the outbox when accepted or refused for good, else retried later.
  void settle(const std::string& topic, const std::string& udid, PendingPush& pending,
              const PushResult& result, Round& round);
  // Exponential backoff with jitter (half to all of it), capped at retry_max.
  int64_t backoff_ms(int attempts, std::chrono::milliseconds base) const;
  void record(const std::vector<events::Event>& events);  // appended durably
  void load_certificates();
  void install_certificate(const std::string& topic, const TopicCertificate& c);
  void run();

  eventlog::EventLog& log_;
  store::Database& store_;
  const crypto::SecretBox& secrets_;
  Pusher& pusher_;
  DispatcherOptions options_;
  Metrics::Counter& pushes_sent_;
  Metrics::Counter& pushes_failed_;
  Metrics::Counter& tokens_invalidated_;
  Metrics::Counter& marked_inactive_;
  std::map<std::string, int64_t> topic_paused_until_ms_;  // circuit breaker per topic
  std::map<std::string, int> topic_failures_;             // consecutive all-failed rounds
  int64_t next_due_ms_ = 0;  // no outbox entry is due before this (0: look now)
  std::string
      sweep_cursor_;  // the key (target/<udid>) the next sweep starts after; empty: the first
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace cairn::dispatcher
