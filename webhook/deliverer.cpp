#include "webhook/deliverer.hpp"

#include <httplib.h>
#include <openssl/crypto.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "common/clock.hpp"
#include "common/logging.hpp"
#include "webhook/body.hpp"

namespace cairn::webhook {
namespace {

using store::decode_record;

int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string secret_sealing_context(std::string_view endpoint) {
  return "webhook-secret:" + std::string(endpoint);
}

constexpr size_t kDeliveriesPerRound = 200;
// Bounds on memory whatever the bodies weigh (a device message may be megabytes): a sender's
// round, the log records one consume() takes in, and what a receiver may answer.
constexpr size_t kRoundBytes = 16 << 20;
constexpr size_t kConsumeBytes = 32 << 20;
constexpr size_t kMaxAnswerBytes = 64 << 10;
constexpr const char* kDeliveriesTotal = "cairn_webhook_deliveries_total";
constexpr const char* kDeliveriesHelp =
    "Webhook delivery attempts by endpoint and outcome: delivered (2xx), failed (retried), "
    "dead_lettered (refused by the receiver, or failing past the give-up time)";

// How a receiver's answer is taken (see deliverer.hpp). Only an answer that faults this body
// dead-letters it at once: a redirect, 401, 403 or 404 says the receiver is misconfigured or
// moved, and taken as a refusal it would dead-letter every message until someone fixed it.
enum class Outcome { kDelivered, kRetry, kRefused };
Outcome outcome_of(int status) {
  if (status >= 200 && status < 300) return Outcome::kDelivered;
  if (status == 400 || status == 413 || status == 415 || status == 422) return Outcome::kRefused;
  return Outcome::kRetry;
}

// Logged on the 1st, 2nd, 4th, 8th... consecutive failure: a receiver down for a day writes a
// few dozen lines, not one per attempt.
bool worth_logging(int failures) {
  return (failures & (failures - 1)) == 0;
}

}  // namespace

// One endpoint's sender: a thread that sends the endpoint's outbox in order.
class Deliverer::Sender {
 public:
  Sender(Deliverer& owner, const Endpoint& endpoint)
      : owner_(owner),
        delivered_(counter(endpoint.name, "delivered")),
        failed_(counter(endpoint.name, "failed")),
        dead_lettered_(counter(endpoint.name, "dead_lettered")) {
    update(endpoint);
    thread_ = std::thread([this] { run(); });
  }
  ~Sender() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (client_) client_->stop();  // a POST in flight ends now, not at its timeout
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    OPENSSL_cleanse(secret_.data(), secret_.size());
  }

  void update(const Endpoint& endpoint) {
    std::string secret;
    try {
      if (!endpoint.secret_sealed.empty())
        secret =
            owner_.secrets_.open(endpoint.secret_sealed, secret_sealing_context(endpoint.name));
    } catch (const std::exception& e) {
      // Another keyring: deliveries wait (unsigned ones would be refused by a checking receiver).
      logging::error("webhook secret cannot be opened; the endpoint's deliveries wait",
                     {{"endpoint", endpoint.name}, {"error", e.what()}});
      secret = {};
    }
    std::lock_guard lock(mu_);
    OPENSSL_cleanse(secret_.data(), secret_.size());
    endpoint_ = endpoint;
    secret_ = std::move(secret);
    secret_missing_ = !endpoint.secret_sealed.empty() && secret_.empty();
    woken_ = true;
    cv_.notify_all();
  }

  void wake() {
    std::lock_guard lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }

 private:
  Metrics::Counter& counter(const std::string& endpoint, const char* outcome) {
    return owner_.metrics_.counter(kDeliveriesTotal, kDeliveriesHelp,
                                   {{"endpoint", endpoint}, {"outcome", outcome}});
  }

  void run() {
    while (true) {
      bool more = false;
      try {
        more = send_round();
      } catch (const std::exception& e) {
        // Store or log trouble: the outbox did not move; tried again shortly.
        logging::error("webhook round failed; retrying", {{"error", e.what()}});
        pause_ms_ = to_ms(owner_.options_.clock()) + 500;
      }
      std::unique_lock lock(mu_);
      if (stopping_) return;
      if (more) continue;
      const int64_t now = to_ms(owner_.options_.clock());
      // Woken by new deliveries, else a look every second (a partition may become ours).
      const int64_t wait_ms = pause_ms_ > now ? std::min<int64_t>(pause_ms_ - now, 1000) : 1000;
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
  }

  // Sends what is due, in order. Returns whether a full round was sent (more may wait).
  bool send_round() {
    const int64_t now = to_ms(owner_.options_.clock());
    if (now < pause_ms_) return false;
    Endpoint endpoint;
    std::string secret;
    {
      std::lock_guard lock(mu_);
      if (secret_missing_) return false;
      endpoint = endpoint_;
      secret = secret_;
    }
    std::vector<std::pair<std::string, Delivery>> due;
    size_t bytes = 0;
    bool full = false;
    owner_.store_.scan(keys::outbox_prefix(endpoint.name), {},
                       [&](std::string_view key, std::string_view value) {
                         auto d = decode_record<Delivery>(value);
                         if (owner_.options_.owns(PartitionId(d.queued_partition))) {
                           bytes += d.body.size();
                           due.emplace_back(std::string(key), std::move(d));
                         }
                         full = due.size() == kDeliveriesPerRound || bytes >= kRoundBytes;
                         return !full;
                       });
    bool paused = false;
    for (auto& [key, d] : due) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
      }
      // The partition may have gone to another node since the scan (a Kafka rebalance).
      if (!owner_.options_.owns(PartitionId(d.queued_partition))) continue;
      if (!deliver(endpoint, secret, key, d)) {
        paused = true;
        break;
      }
    }
    OPENSSL_cleanse(secret.data(), secret.size());
    return full && !paused;
  }

  // One delivery. Returns false when the endpoint pauses (the rest waits).
  bool deliver(const Endpoint& endpoint, const std::string& secret, const std::string& key,
               Delivery& d) {
    const int64_t now = to_ms(owner_.options_.clock());
    if (d.first_attempt_ms == 0) d.first_attempt_ms = now;
    ++d.attempts;
    const auto [status, reason] = post(endpoint, secret, d.body);
    d.last_status = status;
    d.last_reason = reason;
    store::Batch batch(owner_.store_);
    switch (outcome_of(status)) {
      case Outcome::kDelivered:
        batch.erase(key);
        owner_.store_.write(batch);
        ++delivered_;
        failures_ = 0;
        return true;
      case Outcome::kRefused:
        dead_letter(endpoint, key, d);
        return true;
      case Outcome::kRetry:
        break;
    }
    ++failed_;
    const auto paused = backoff_ms(++failures_);
    if (worth_logging(failures_))
      logging::warn("webhook delivery failed; the endpoint pauses",
                    {{"endpoint", endpoint.name},
                     {"status", std::to_string(status)},
                     {"reason", reason},
                     {"consecutive_failures", std::to_string(failures_)},
                     {"retry_in_ms", std::to_string(paused)}});
    if (now - d.first_attempt_ms >= owner_.options_.give_up_after.count()) {
      dead_letter(endpoint, key, d);
    } else {
      batch.save(key, d);
      owner_.store_.write(batch);
    }
    pause_ms_ = now + paused;
    return false;
  }

  // Recorded in the log before the outbox forgets it: a crash in between records it twice (the
  // projection keeps one, by position), never loses it.
  void dead_letter(const Endpoint& endpoint, const std::string& key, const Delivery& d) {
    logging::error("webhook delivery dead-lettered", {{"endpoint", endpoint.name},
                                                      {"event_id", d.event_id},
                                                      {"status", std::to_string(d.last_status)},
                                                      {"reason", d.last_reason},
                                                      {"attempts", std::to_string(d.attempts)}});
    owner_.log_.append({events::to_record(events::make_event(
        "", owner_.options_.node, "webhooks",
        events::WebhookDeadLettered{endpoint.name, d.event_id, d.topic, d.device, d.partition,
                                    d.offset, d.attempts, d.last_status, d.last_reason,
                                    format_rfc3339(std::chrono::system_clock::time_point(
                                        std::chrono::milliseconds(d.first_attempt_ms)))}))});
    store::Batch batch(owner_.store_);
    batch.erase(key);
    owner_.store_.write(batch);
    ++dead_lettered_;
  }

  struct Answer {
    int status;  // 0: none
    std::string reason;
  };
  Answer post(const Endpoint& endpoint, const std::string& secret, const std::string& body) {
    const auto client = client_for(endpoint.url);
    httplib::Request req;
    req.method = "POST";
    req.path = path_;
    req.headers = {{"User-Agent", "cairn-webhooks"},
                   {"Content-Type", "application/json; charset=utf-8"}};
    if (!secret.empty()) req.headers.emplace("X-Hmac-Signature", signature_of(secret, body));
    req.body = body;
    // Only the status counts: the answer is read and dropped, and cut off past 64 KiB or when
    // it trickles in for longer than a few timeouts (a hostile receiver would otherwise hold
    // memory or the sender). Its status, known from the headers, still counts.
    int status = 0;
    size_t answer_bytes = 0;
    const auto deadline = std::chrono::steady_clock::now() + 3 * owner_.options_.timeout;
    req.response_handler = [&status](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
      answer_bytes += n;
      return answer_bytes <= kMaxAnswerBytes && std::chrono::steady_clock::now() < deadline;
    };
    const auto result = client->send(req);
    if (result) return {result->status, "HTTP " + std::to_string(result->status)};
    drop_client();  // a fresh connection next time
    if (status != 0)
      return {status, "HTTP " + std::to_string(status) + ", its answer cut off (too long or slow)"};
    return {0, httplib::to_string(result.error())};
  }

  // The kept-alive connection to `url`, made anew when there is none or the URL changed.
  std::shared_ptr<httplib::Client> client_for(const std::string& url) {
    std::lock_guard lock(mu_);
    if (client_ && client_url_ == url) return client_;
    // scheme://host[:port][/path]: the client takes the first part, each POST the path.
    const auto host_start = url.find("://");
    const auto path_start = url.find('/', host_start == std::string::npos ? 0 : host_start + 3);
    client_ = std::make_shared<httplib::Client>(url.substr(0, path_start));
    path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
    client_url_ = url;
    const auto timeout = owner_.options_.timeout;
    client_->set_connection_timeout(timeout);
    client_->set_read_timeout(timeout);
    client_->set_write_timeout(timeout);
    client_->set_keep_alive(true);
    client_->set_decompress(false);
    // Headers and body go in two writes: with Nagle's algorithm the body waits for the
    // receiver's delayed ACK (40 ms a delivery, measured: 28 deliveries/s).
    client_->set_tcp_nodelay(true);
    if (!owner_.options_.ca_file.empty()) client_->set_ca_cert_path(owner_.options_.ca_file);
    return client_;
  }

  void drop_client() {
    std::lock_guard lock(mu_);
    client_.reset();
  }

  // Exponential with jitter (half to all of it), capped at retry_max.
  int64_t backoff_ms(int failures) const {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    const double full = std::min<double>(static_cast<double>(owner_.options_.retry_max.count()),
                                         static_cast<double>(owner_.options_.retry_base.count()) *
                                             std::pow(2.0, std::min(failures - 1, 30)));
    return static_cast<int64_t>(full * std::uniform_real_distribution<double>(0.5, 1.0)(rng));
  }

  Deliverer& owner_;
  Metrics::Counter& delivered_;
  Metrics::Counter& failed_;
  Metrics::Counter& dead_lettered_;
  std::mutex mu_;
  std::condition_variable cv_;
  Endpoint endpoint_;
  std::string secret_;
  bool secret_missing_ = false;
  bool woken_ = false;
  bool stopping_ = false;
  std::shared_ptr<httplib::Client> client_;  // under mu_: stopped by the destructor
  std::string client_url_, path_;
  // The sender thread's own.
  int failures_ = 0;                  // consecutive failed attempts
  std::atomic<int64_t> pause_ms_{0};  // nothing is sent before this
  std::thread thread_;
};

// What one consume() call changes, written together with the position.
struct Deliverer::ConsumeRound {
  explicit ConsumeRound(const store::Database& db) : batch(db) {}
  store::Batch batch;
  std::map<std::string, std::optional<Endpoint>> changed;  // nullopt: removed
  std::set<std::string> woken;
};

Deliverer::Deliverer(eventlog::EventLog& log, store::Database& store,
                     const crypto::SecretBox& secrets, Metrics& metrics, DelivererOptions options)
    : log_(log), store_(store), secrets_(secrets), metrics_(metrics), options_(std::move(options)) {
  if (auto seq = store_.get(keys::kNextSeq)) next_seq_ = std::stoull(*seq, nullptr, 16);
  metrics_.gauge("cairn_webhook_outbox", "Webhook deliveries waiting per endpoint", [this] {
    std::vector<std::string> names;
    {
      std::lock_guard lock(senders_mu_);  // not held while counting: a scan of each outbox
      for (const auto& [name, sender] : senders_) names.push_back(name);
    }
    std::vector<Metrics::Sample> samples;
    for (const auto& name : names)
      samples.push_back({{{"endpoint", name}}, static_cast<double>(pending(name))});
    return samples;
  });
}

Deliverer::~Deliverer() {
  stop();
}

void Deliverer::start() {
  store_.scan(keys::kEndpointPrefix, {}, [&](std::string_view, std::string_view value) {
    start_sender(decode_record<Endpoint>(value));
    return true;
  });
  thread_ = std::thread([this] { run(); });
}

void Deliverer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  std::map<std::string, std::unique_ptr<Sender>> senders;
  {
    std::lock_guard lock(senders_mu_);
    senders.swap(senders_);
  }
  senders.clear();  // joins each sender, without holding the map's lock (the metrics gauge)
}

void Deliverer::start_sender(const Endpoint& endpoint) {
  std::lock_guard lock(senders_mu_);
  if (auto it = senders_.find(endpoint.name); it != senders_.end())
    it->second->update(endpoint);
  else
    senders_.emplace(endpoint.name, std::make_unique<Sender>(*this, endpoint));
}

void Deliverer::run() {
  auto next_progress = std::chrono::steady_clock::now() + options_.progress_every;
  while (!stopping_) {
    try {
      consume(std::chrono::milliseconds(100));
      if (options_.progress_every.count() > 0 &&
          std::chrono::steady_clock::now() >= next_progress) {
        record_progress();
        next_progress = std::chrono::steady_clock::now() + options_.progress_every;
      }
    } catch (const std::exception& e) {
      // Nothing is lost: the position and the outboxes did not move.
      logging::error("webhook deliverer round failed; retrying", {{"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

size_t Deliverer::consume(std::chrono::milliseconds wait) {
  const auto position = [this](PartitionId p) { return store_.next_offset(p); };
  return eventlog::read_each_partition(
      log_, position, 1000, wait,
      [&](PartitionId partition, const std::vector<eventlog::LogRecord>& records) {
        ConsumeRound round(store_);
        size_t bytes = 0;
        Offset next = records.front().position.offset;
        for (const auto& record : records) {
          if (bytes >= kConsumeBytes) break;  // the rest on the next call
          bytes += record.value.size();
          apply(record, round);
          next = Offset(record.position.offset.value() + 1);
        }
        round.batch.set_next_offset(partition, next);
        round.batch.put(keys::kNextSeq, keys::hex16(next_seq_));
        store_.write(round.batch);
        // Senders see the written outbox: started, changed or woken only now.
        for (const auto& [name, endpoint] : round.changed)
          if (endpoint) start_sender(*endpoint);
        std::lock_guard lock(senders_mu_);
        for (const auto& name : round.woken)
          if (auto it = senders_.find(name); it != senders_.end()) it->second->wake();
      });
}

void Deliverer::apply(const eventlog::LogRecord& record, ConsumeRound& round) {
  const auto topic = topic_of_type(record.type);
  if (!topic && !record.type.starts_with("Webhook")) return;
  events::Event e;
  try {
    e = events::decode(record.value);
  } catch (const std::runtime_error& error) {
    logging::error("webhook deliverer skipped an unreadable event",
                   {{"offset", std::to_string(record.position.offset.value())},
                    {"type", record.type},
                    {"error", error.what()}});
    return;
  }
  if (topic) return queue(e, *topic, record.position, record.position, round);
  if (const auto* set = std::get_if<events::WebhookEndpointSet>(&e.payload))
    set_endpoint(*set, round);
  else if (const auto* removed = std::get_if<events::WebhookEndpointRemoved>(&e.payload))
    remove_endpoint(removed->name, round);
  else if (const auto* redelivery = std::get_if<events::WebhookRedeliveryRequested>(&e.payload))
    redeliver(*redelivery, record.position, round);
  else if (const auto* progress = std::get_if<events::WebhooksDelivered>(&e.payload))
    drop_settled(*progress, round);
}

void Deliverer::queue(const events::Event& e, std::string_view topic, LogPosition position,
                      LogPosition queued_at, ConsumeRound& round,
                      const std::string& only_endpoint) {
  std::string body;
  round.batch.scan(keys::kEndpointPrefix, {}, [&](std::string_view, std::string_view value) {
    const auto endpoint = decode_record<Endpoint>(value);
    if (only_endpoint.empty() ? !endpoint.takes(topic) : endpoint.name != only_endpoint)
      return true;
    if (body.empty()) body = body_of(e, topic);
    round.batch.save(keys::outbox(endpoint.name, next_seq_++),
                     Delivery{e.id, std::string(topic), e.device, position.partition.value(),
                              position.offset.value(), body, 0, 0, 0, "",
                              queued_at.partition.value(), queued_at.offset.value()});
    round.woken.insert(endpoint.name);
    return true;
  });
}

void Deliverer::set_endpoint(const events::WebhookEndpointSet& p, ConsumeRound& round) {
  Endpoint endpoint{p.name, p.url, p.topics, p.secret_sealed};
  round.batch.save(keys::endpoint(p.name), endpoint);
  round.changed[p.name] = endpoint;
}

void Deliverer::remove_endpoint(const std::string& name, ConsumeRound& round) {
  {
    // Stopped before its outbox goes, so that it cannot write an entry back.
    std::unique_ptr<Sender> sender;
    std::lock_guard lock(senders_mu_);
    if (auto it = senders_.find(name); it != senders_.end()) {
      sender = std::move(it->second);
      senders_.erase(it);
    }
  }
  round.batch.erase(keys::endpoint(name));
  std::vector<std::string> keys;
  round.batch.scan(keys::outbox_prefix(name), {}, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  for (const auto& key : keys) round.batch.erase(key);
  round.changed[name] = std::nullopt;
}

void Deliverer::redeliver(const events::WebhookRedeliveryRequested& p, LogPosition requested_at,
                          ConsumeRound& round) {
  if (!round.batch.has(keys::endpoint(p.endpoint))) return;
  for (const auto& ref : p.deliveries) {
    if (ref.partition < 0 || ref.partition >= log_.partition_count() || ref.offset < 0) continue;
    const auto records =
        log_.read(PartitionId(ref.partition), Offset(ref.offset), 1, std::chrono::milliseconds(0));
    if (records.empty() || records.front().position.offset.value() != ref.offset) continue;
    const auto topic = topic_of_type(records.front().type);
    if (!topic) continue;
    events::Event e;
    try {
      e = events::decode(records.front().value);
    } catch (const std::runtime_error& error) {
      // Skipped, not retried: an unreadable record stays unreadable, and throwing would stop
      // the deliverer at this request forever.
      logging::error(
          "webhook redelivery skipped an unreadable event",
          {{"endpoint", p.endpoint}, {"event_id", ref.event_id}, {"error", error.what()}});
      continue;
    }
    if (e.id != ref.event_id) continue;  // not the event the dead letter named
    queue(e, *topic, records.front().position, requested_at, round, p.endpoint);
  }
}

void Deliverer::drop_settled(const events::WebhooksDelivered& p, ConsumeRound& round) {
  if (options_.owns(PartitionId(p.partition))) return;  // ours: settled as it went
  std::vector<std::string> settled;
  round.batch.scan(keys::outbox_prefix(p.endpoint), {},
                   [&](std::string_view key, std::string_view value) {
                     const auto d = decode_record<Delivery>(value);
                     if (d.queued_partition == p.partition && d.queued_offset < p.below_offset)
                       settled.emplace_back(key);
                     return true;
                   });
  for (const auto& key : settled) round.batch.erase(key);
}

void Deliverer::record_progress() {
  std::vector<eventlog::RecordToAppend> records;
  std::map<std::pair<std::string, int32_t>, int64_t> progress;
  store_.scan(keys::kEndpointPrefix, {}, [&](std::string_view, std::string_view value) {
    const auto endpoint = decode_record<Endpoint>(value);
    std::map<int32_t, int64_t> lowest;
    store_.scan(keys::outbox_prefix(endpoint.name), {}, [&](std::string_view, std::string_view v) {
      const auto d = decode_record<Delivery>(v);
      auto [it, fresh] = lowest.emplace(d.queued_partition, d.queued_offset);
      if (!fresh) it->second = std::min(it->second, d.queued_offset);
      return true;
    });
    for (int32_t p = 0; p < log_.partition_count(); ++p) {
      if (!options_.owns(PartitionId(p))) continue;
      const auto it = lowest.find(p);
      const int64_t below =
          it != lowest.end() ? it->second : store_.next_offset(PartitionId(p)).value();
      auto& recorded = progress_recorded_[{endpoint.name, p}];
      if (below <= recorded) continue;
      progress[{endpoint.name, p}] = below;
      records.push_back(events::to_record(events::make_event(
          "", options_.node, "webhooks", events::WebhooksDelivered{endpoint.name, p, below})));
    }
    return true;
  });
  if (records.empty()) return;
  log_.append(std::move(records));
  for (const auto& [key, below] : progress) progress_recorded_[key] = below;
}

size_t Deliverer::pending(const std::string& endpoint) const {
  size_t n = 0;
  store_.scan(keys::outbox_prefix(endpoint), {}, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

}  // namespace cairn::webhook
