#include "dispatcher/dispatcher.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "common/clock.hpp"
#include "common/logging.hpp"
#include "dispatcher/push_state.hpp"
#include "pki/push_certificate.hpp"
#include "projector/keys.hpp"
#include "projector/record_codec.hpp"
#include "schemas/events.hpp"

namespace cairn::dispatcher {
namespace {

using projector::decode_record;
using projector::encode_record;

int64_t to_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// When the event happened (its time), or `fallback` for a time this version cannot read.
int64_t ms_of(const events::Event& e, int64_t fallback) {
  const auto t = parse_rfc3339(e.time);
  return t ? to_ms(*t) : fallback;
}

PendingPush pending_for(const DevicePushTarget& target, int64_t now) {
  return PendingPush{target.topic, target.token_hex, target.push_magic, 0,
                     now,          target.partition, target.sandbox};
}

// APNs's answers that mean the token will never work again (Apple's "Handling notification
// responses"): stop pushing it until the device sends a new TokenUpdate.
bool token_is_gone(const PushResult& r) {
  return r.status == 410 || (r.status == 400 && (r.reason == "BadDeviceToken" ||
                                                 r.reason == "DeviceTokenNotForTopic"));
}

bool is_transient(const PushResult& r) {
  return r.status == 0 || r.status == 429 || r.status >= 500;
}

// Failures are recorded at attempts 1, 2, 4, 8, ...: an APNs outage must not flood the log.
bool worth_recording(int attempt) {
  return (attempt & (attempt - 1)) == 0;
}

// Reads and writes one batch of the dispatcher's state (reads see the batch's own writes).
class StateBatch {
 public:
  explicit StateBatch(projector::Store& store)
      : store_(store), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}
  template <class T>
  std::optional<T> load(const std::string& key) {
    auto v = store_.get(batch_, key);
    return v ? std::optional(decode_record<T>(*v)) : std::nullopt;
  }
  bool has(const std::string& key) { return store_.get(batch_, key).has_value(); }
  std::optional<std::string> raw(const std::string& key) { return store_.get(batch_, key); }
  template <class T>
  void save(const std::string& key, const T& record) {
    batch_.Put(key, encode_record(record));
  }
  void put(const std::string& key, const std::string& value) { batch_.Put(key, value); }
  void erase(const std::string& key) { batch_.Delete(key); }
  void commit() { store_.write(batch_); }

 private:
  projector::Store& store_;
  rocksdb::WriteBatchWithIndex batch_;
};

}  // namespace

namespace {
constexpr const char* kPushesTotal = "cairn_pushes_total";
// How soon a dispatcher looks again at pushes of partitions it does not own (it may be given
// them when another dispatcher dies).
constexpr std::chrono::milliseconds kOwnershipRecheck{1000};
constexpr const char* kPushesHelp =
    "Push attempts by outcome: sent (APNs accepted), failed (retried or dropped as our bug), "
    "token_invalidated (APNs said the token is gone)";
}  // namespace

Dispatcher::Dispatcher(eventlog::EventLog& log, projector::Store& store,
                       const crypto::SecretBox& secrets, Pusher& pusher, Metrics& metrics,
                       DispatcherOptions options)
    : log_(log),
      store_(store),
      secrets_(secrets),
      pusher_(pusher),
      options_(std::move(options)),
      pushes_sent_(metrics.counter(kPushesTotal, kPushesHelp, {{"outcome", "sent"}})),
      pushes_failed_(metrics.counter(kPushesTotal, kPushesHelp, {{"outcome", "failed"}})),
      tokens_invalidated_(
          metrics.counter(kPushesTotal, kPushesHelp, {{"outcome", "token_invalidated"}})),
      marked_inactive_(
          metrics.counter("cairn_devices_marked_inactive_total",
                          "Devices recorded as DeviceInactive by the liveness sweep")) {
  load_certificates();
}

Dispatcher::~Dispatcher() {
  stop();
}

void Dispatcher::start() {
  thread_ = std::thread([this] { run(); });
}

void Dispatcher::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::run() {
  auto next_sweep = std::chrono::steady_clock::now();
  while (!stopping_) {
    try {
      consume(std::chrono::milliseconds(100));
      if (std::chrono::steady_clock::now() >= next_sweep) {
        sweep();
        next_sweep = std::chrono::steady_clock::now() + options_.sweep_every;
      }
      send_due();
    } catch (const std::exception& e) {
      // Log or store trouble: nothing is lost (the position and the outbox did not move).
      logging::error("dispatcher round failed; retrying", {{"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

void Dispatcher::install_certificate(const std::string& topic, const TopicCertificate& c) {
  try {
    const std::string key_pem =
        secrets_.open(c.private_key_sealed, pki::push_certificate_sealing_context(topic));
    pusher_.set_certificate(topic, c.certificate_pem, key_pem);
    // Pushes that waited for a (working) certificate go now, not after the pause.
    topic_paused_until_ms_.erase(topic);
    topic_failures_.erase(topic);
    StateBatch state(store_);
    store_.scan("o/", {}, [&](std::string_view key, std::string_view value) {
      auto pending = decode_record<PendingPush>(value);
      if (pending.topic == topic && pending.due_ms > 0) {
        pending.due_ms = 0;
        state.save(std::string(key), pending);
      }
      return true;
    });
    state.commit();
    next_due_ms_ = 0;
    const int days = pki::days_until_expiry(c.certificate_pem);
    if (days < pki::kPushCertificateWarningDays)
      logging::warn("push certificate expires soon: renew it at Apple and upload it again",
                    {{"topic", topic}, {"days_left", std::to_string(days)}});
  } catch (const std::exception& e) {
    logging::error("push certificate unusable; its topic cannot be pushed",
                   {{"topic", topic}, {"error", e.what()}});
  }
}

void Dispatcher::load_certificates() {
  store_.scan("c/", {}, [&](std::string_view key, std::string_view value) {
    install_certificate(std::string(key.substr(2)), decode_record<TopicCertificate>(value));
    return true;
  });
}

size_t Dispatcher::consume(std::chrono::milliseconds wait) {
  size_t consumed = 0;
  for (int32_t p = 0; p < log_.partition_count(); ++p) {
    const PartitionId partition(p);
    const auto records = log_.read(partition, store_.next_offset(partition), 1000, wait);
    if (records.empty()) continue;
    StateBatch state(store_);
    std::map<std::string, TopicCertificate> new_certificates;
    const int64_t now = to_ms(options_.clock());
    auto want_push = [&](const std::string& udid) {
      const auto target = state.load<DevicePushTarget>(keys::target(udid));
      if (!target || target->token_invalid) {
        // Not pushable yet (between Authenticate and TokenUpdate) or any more (a dead token):
        // remembered, so that its next TokenUpdate pushes it.
        state.put(keys::wanted(udid), "");
        return;
      }
      if (state.has(keys::pending(udid))) return;  // coalesced with the pending one
      if (auto sent = state.raw(keys::last_sent(udid));
          sent && now - std::stoll(*sent) < options_.coalesce_window.count() * 1000)
        return;  // an accepted push is outstanding: the device will poll anyway
      state.save(keys::pending(udid), pending_for(*target, now));
      next_due_ms_ = 0;
    };

    for (const auto& record : records) {
      events::Event e;
      try {
        e = events::decode(record.value, events::Bodies::kSkip);
      } catch (const std::runtime_error& error) {
        // A type or version this dispatcher cannot read (a newer writer): not a trigger it knows.
        logging::error("dispatcher skipped an unreadable event",
                       {{"offset", std::to_string(record.position.offset.value())},
                        {"type", record.type},
                        {"error", error.what()}});
        continue;
      }
      const std::string& udid = e.device;
      std::visit(
          [&](const auto& payload) {
            using T = std::decay_t<decltype(payload)>;
            if constexpr (std::is_same_v<T, events::TokenUpdated>) {
              const DevicePushTarget target{payload.topic,
                                            payload.token_hex,
                                            payload.push_magic,
                                            false,
                                            ms_of(e, now),
                                            false,
                                            p,
                                            state.has(keys::development(udid))};
              state.save(keys::target(udid), target);
              // A pending push goes to the new token (the old one may be dead, and the device
              // ignores a push with an old PushMagic); a wanted one is queued now.
              if (state.has(keys::pending(udid)) || state.has(keys::wanted(udid))) {
                state.save(keys::pending(udid), pending_for(target, now));
                next_due_ms_ = 0;
              }
              state.erase(keys::wanted(udid));
            } else if constexpr (std::is_same_v<T, events::DeviceAuthenticated> ||
                                 std::is_same_v<T, events::DeviceCheckedOut>) {
              // A new enrollment (or none): its old queue is cancelled, no pushes until its
              // TokenUpdate.
              state.erase(keys::target(udid));
              state.erase(keys::pending(udid));
              state.erase(keys::wanted(udid));
              state.erase(keys::last_sent(udid));
              if constexpr (std::is_same_v<T, events::DeviceAuthenticated>) {
                if (payload.development_apns)
                  state.put(keys::development(udid), "");
                else if (state.has(keys::development(udid)))
                  state.erase(keys::development(udid));
              }
            } else if constexpr (std::is_same_v<T, events::CommandEnqueued>) {
              if (!payload.no_push) want_push(udid);
            } else if constexpr (std::is_same_v<T, events::PushRequested>) {
              want_push(udid);
            } else if constexpr (std::is_same_v<T, events::CommandReported>) {
              // It polled: the next command needs a push, and a push not sent yet is moot (it
              // gets everything queued in this session). Every dispatcher settles pushes this
              // way, owner or not. (Reads before writes: this runs for every result a device
              // sends, and most have nothing to change.)
              if (state.has(keys::last_sent(udid))) state.erase(keys::last_sent(udid));
              if (state.has(keys::pending(udid))) state.erase(keys::pending(udid));
              auto target = state.load<DevicePushTarget>(keys::target(udid));
              const int64_t heard = ms_of(e, now);
              // Liveness windows are hours: the time it was heard is kept to the minute.
              if (target && (target->inactive || heard - target->last_heard_ms >= 60'000)) {
                target->last_heard_ms = heard;
                target->inactive = false;
                state.save(keys::target(udid), *target);
              }
            } else if constexpr (std::is_same_v<T, events::PushTokenInvalidated>) {
              // Outcomes recorded by whichever dispatcher owned the device's partition: the
              // others keep the same state, ready to take the partition over. (PushSent is not
              // one of them: a push that went out is settled by the device's next message, so
              // a takeover may repeat a push, never miss one.)
              if (auto target = state.load<DevicePushTarget>(keys::target(udid));
                  target && target->token_hex == payload.token_hex && !target->token_invalid) {
                target->token_invalid = true;
                state.save(keys::target(udid), *target);
                state.erase(keys::pending(udid));
              }
            } else if constexpr (std::is_same_v<T, events::DeviceInactive>) {
              if (auto target = state.load<DevicePushTarget>(keys::target(udid));
                  target && !target->inactive) {
                target->inactive = true;
                state.save(keys::target(udid), *target);
              }
            } else if constexpr (std::is_same_v<T, events::PushCertificateUploaded>) {
              TopicCertificate c{payload.certificate_pem, payload.private_key_sealed};
              state.save(keys::certificate(payload.topic), c);
              new_certificates[payload.topic] = std::move(c);
            }
          },
          e.payload);
    }
    state.put(projector::keys::position(p),
              std::to_string(records.back().position.offset.value() + 1));
    state.commit();
    for (const auto& [topic, c] : new_certificates) install_certificate(topic, c);
    consumed += records.size();
  }
  return consumed;
}

size_t Dispatcher::pending() const {
  size_t n = 0;
  store_.scan("o/", {}, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

size_t Dispatcher::send_due() {
  const int64_t now = to_ms(options_.clock());
  // Nothing new was queued and nothing waiting is due yet: no need to walk the outbox (during an
  // APNs outage or without a certificate it holds a push for every device with a command).
  if (now < next_due_ms_) return 0;
  // What is due, by topic, skipping topics whose breaker is open.
  std::map<std::string, std::vector<std::pair<std::string, PendingPush>>> due;
  size_t collected = 0;
  int64_t earliest_later = std::numeric_limits<int64_t>::max();
  store_.scan("o/", {}, [&](std::string_view key, std::string_view value) {
    auto pending = decode_record<PendingPush>(value);
    if (!options_.owns(PartitionId(pending.partition))) {
      // Another dispatcher's to send; looked at again soon in case it becomes ours.
      earliest_later = std::min(earliest_later, now + kOwnershipRecheck.count());
      return true;
    }
    const auto paused = topic_paused_until_ms_.find(pending.topic);
    const int64_t ready =
        std::max(pending.due_ms, paused == topic_paused_until_ms_.end() ? 0 : paused->second);
    if (ready <= now) {
      due[pending.topic].emplace_back(std::string(key.substr(2)), std::move(pending));
      ++collected;
    } else {
      earliest_later = std::min(earliest_later, ready);
    }
    return collected < options_.max_pushes_per_round;
  });
  // A full round may have left due pushes unscanned: look again at once.
  next_due_ms_ = collected >= options_.max_pushes_per_round ? 0 : earliest_later;
  if (due.empty()) return 0;

  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto backoff_ms = [&](int attempts, std::chrono::milliseconds base) {
    const double full = std::min<double>(
        static_cast<double>(options_.retry_max.count()),
        static_cast<double>(base.count()) * std::pow(2.0, std::min(attempts - 1, 30)));
    return static_cast<int64_t>(full * std::uniform_real_distribution<double>(0.5, 1.0)(rng));
  };
  const int64_t expiration = now / 1000 + options_.push_expiration.count();
  StateBatch state(store_);
  std::vector<events::Event> outcomes;
  size_t attempted = 0;
  uint64_t sent = 0, failed = 0, invalidated = 0;
  for (auto& [topic, entries] : due) {
    std::vector<PushResult> results;
    if (pusher_.has_certificate(topic)) {
      std::vector<Push> pushes;
      for (const auto& [udid, p] : entries)
        pushes.push_back(Push{p.token_hex, topic, p.push_magic, p.sandbox, expiration});
      results = pusher_.send(topic, pushes);
    } else {
      results.assign(entries.size(), PushResult{0, "", "", "no push certificate for the topic"});
    }
    bool all_transient = true;
    bool certificate_refused = !pusher_.has_certificate(topic);
    for (size_t i = 0; i < entries.size(); ++i) {
      auto& [udid, p] = entries[i];
      const PushResult& r = results[i];
      ++attempted;
      all_transient = all_transient && is_transient(r);
      if (r.status == 200) {
        state.erase(keys::pending(udid));
        state.put(keys::last_sent(udid), std::to_string(now));
        outcomes.push_back(events::make_event(udid, options_.node, "dispatcher",
                                              events::PushSent{topic, p.token_hex, r.apns_id}));
        ++sent;
        continue;
      }
      const std::string reason = r.status ? r.reason : r.error;
      if (token_is_gone(r)) {
        state.erase(keys::pending(udid));
        if (auto target = state.load<DevicePushTarget>(keys::target(udid));
            target && target->token_hex == p.token_hex) {
          target->token_invalid = true;
          state.save(keys::target(udid), *target);
        }
        outcomes.push_back(
            events::make_event(udid, options_.node, "dispatcher",
                               events::PushTokenInvalidated{topic, p.token_hex, r.status, reason}));
        ++invalidated;
        continue;
      }
      ++failed;
      ++p.attempts;
      const bool retry = is_transient(r) || r.status == 403;
      certificate_refused = certificate_refused || r.status == 403;
      if (retry) {
        p.due_ms = now + (r.status == 403 || !pusher_.has_certificate(topic)
                              ? options_.certificate_pause.count()
                              : backoff_ms(p.attempts, options_.retry_base));
        state.save(keys::pending(udid), p);
        next_due_ms_ = std::min(next_due_ms_, p.due_ms);
      } else {
        state.erase(keys::pending(udid));  // a request APNs will never take: our bug, recorded
      }
      if (!retry || worth_recording(p.attempts))
        outcomes.push_back(events::make_event(
            udid, options_.node, "dispatcher",
            events::PushFailed{topic, r.status, reason, r.apns_id, p.attempts, retry}));
    }
    // The circuit breaker: a topic whose whole round failed waits before it is tried again.
    if (certificate_refused) {
      topic_paused_until_ms_[topic] = now + options_.certificate_pause.count();
      logging::error(
          "APNs refused the push certificate or none is loaded; pushes for the topic "
          "wait until one works",
          {{"topic", topic}, {"reason", results.empty() ? "" : results[0].reason}});
    } else if (all_transient) {
      topic_paused_until_ms_[topic] =
          now + backoff_ms(++topic_failures_[topic], options_.retry_base);
    } else {
      topic_failures_.erase(topic);
      topic_paused_until_ms_.erase(topic);
    }
  }
  // Outcomes are durable before the outbox forgets: a crash in between repeats a push (harmless)
  // rather than losing one.
  record(outcomes);
  state.commit();
  pushes_sent_ += sent;
  pushes_failed_ += failed;
  tokens_invalidated_ += invalidated;
  return attempted;
}

void Dispatcher::record(const std::vector<events::Event>& events) {
  std::vector<eventlog::RecordToAppend> records;
  for (const auto& e : events) records.push_back(events::to_record(e));
  log_.append(std::move(records));
}

size_t Dispatcher::sweep() {
  const int64_t now = to_ms(options_.clock());
  const int64_t repush = options_.repush_after.count(), inactive = options_.inactive_after.count();
  StateBatch state(store_);
  std::vector<events::Event> inactive_events;
  size_t queued = 0;
  std::string last_key;
  bool stopped_early = false;
  const std::string start = sweep_cursor_.empty() ? std::string() : sweep_cursor_ + '\0';
  store_.scan("d/", start, [&](std::string_view key, std::string_view value) {
    last_key = std::string(key);
    const std::string udid(key.substr(2));
    auto target = decode_record<DevicePushTarget>(value);
    if (!options_.owns(PartitionId(target.partition))) return true;  // another dispatcher's
    const int64_t silent = now - target.last_heard_ms;
    if (inactive > 0 && silent >= inactive && !target.inactive) {
      target.inactive = true;
      state.save(std::string(key), target);
      inactive_events.push_back(events::make_event(
          udid, options_.node, "dispatcher",
          events::DeviceInactive{format_rfc3339(std::chrono::system_clock::time_point(
              std::chrono::milliseconds(target.last_heard_ms)))}));
    }
    if (repush > 0 && silent >= repush && !target.token_invalid &&
        !state.has(keys::pending(udid))) {
      const auto sent = state.raw(keys::last_sent(udid));
      if (!sent || now - std::stoll(*sent) >= repush) {
        state.save(keys::pending(udid), pending_for(target, now));
        next_due_ms_ = 0;
        // Counts as outstanding: the next sweep does not queue it again before repush_after.
        state.put(keys::last_sent(udid), std::to_string(now));
        ++queued;
      }
    }
    stopped_early = queued >= options_.max_sweep_pushes;
    return !stopped_early;
  });
  sweep_cursor_ = stopped_early ? last_key : std::string();
  record(inactive_events);
  state.commit();
  marked_inactive_ += inactive_events.size();
  return queued;
}

}  // namespace cairn::dispatcher
