#include "dispatcher/dispatcher.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "common/clock.hpp"
#include "common/logging.hpp"
#include "dispatcher/push_state.hpp"
#include "dispatcher/push_state_update.hpp"
#include "pki/push_certificate.hpp"
#include "schemas/events.hpp"

namespace cairn::dispatcher {
namespace {

using store::decode_record;

int64_t to_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
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

constexpr const char* kPushesTotal = "cairn_pushes_total";
// How soon a dispatcher looks again at pushes of partitions it does not own (it may be given
// them when another dispatcher dies).
constexpr std::chrono::milliseconds kOwnershipRecheck{1000};
constexpr const char* kPushesHelp =
    "Push attempts by outcome: sent (APNs accepted), failed (retried or dropped as our bug), "
    "token_invalidated (APNs said the token is gone)";
}  // namespace

Dispatcher::Dispatcher(eventlog::EventLog& log, store::Database& store,
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
    store::Batch state(store_);
    store_.scan(keys::kOutboxPrefix, {}, [&](std::string_view key, std::string_view value) {
      auto pending = decode_record<PendingPush>(value);
      if (pending.topic == topic && pending.due_ms > 0) {
        pending.due_ms = 0;
        state.save(std::string(key), pending);
      }
      return true;
    });
    store_.write(state);
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
  store_.scan(keys::kCertificatePrefix, {}, [&](std::string_view key, std::string_view value) {
    install_certificate(std::string(key.substr(keys::kCertificatePrefix.size())),
                        decode_record<TopicCertificate>(value));
    return true;
  });
}

size_t Dispatcher::consume(std::chrono::milliseconds wait) {
  const auto position = [this](PartitionId p) { return store_.next_offset(p); };
  return eventlog::read_each_partition(
      log_, position, 1000, wait,
      [&](PartitionId partition, const std::vector<eventlog::LogRecord>& records) {
        store::Batch state(store_);
        PushStateUpdate update(state, partition, to_ms(options_.clock()), options_.coalesce_window);
        for (const auto& record : records) {
          events::Event e;
          try {
            e = events::decode(record.value, events::Bodies::kSkip);
          } catch (const std::runtime_error& error) {
            // A type or version this dispatcher cannot read (a newer writer): not a trigger it
            // knows.
            logging::error("dispatcher skipped an unreadable event",
                           {{"offset", std::to_string(record.position.offset.value())},
                            {"type", record.type},
                            {"error", error.what()}});
            continue;
          }
          update.apply(e);  // store trouble propagates: the batch and its position stay unwritten
        }
        state.set_next_offset(partition, Offset(records.back().position.offset.value() + 1));
        store_.write(state);
        if (update.queued_push()) next_due_ms_ = 0;
        for (const auto& [topic, c] : update.new_certificates()) install_certificate(topic, c);
      });
}

size_t Dispatcher::pending() const {
  size_t n = 0;
  store_.scan(keys::kOutboxPrefix, {}, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

Dispatcher::DueByTopic Dispatcher::collect_due(int64_t now) {
  DueByTopic due;
  size_t collected = 0;
  int64_t earliest_later = std::numeric_limits<int64_t>::max();
  store_.scan(keys::kOutboxPrefix, {}, [&](std::string_view key, std::string_view value) {
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
      due[pending.topic].emplace_back(std::string(key.substr(keys::kOutboxPrefix.size())),
                                      std::move(pending));
      ++collected;
    } else {
      earliest_later = std::min(earliest_later, ready);
    }
    return collected < options_.max_pushes_per_round;
  });
  // A full round may have left due pushes unscanned: look again at once.
  next_due_ms_ = collected >= options_.max_pushes_per_round ? 0 : earliest_later;
  return due;
}

int64_t Dispatcher::backoff_ms(int attempts, std::chrono::milliseconds base) const {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const double full = std::min<double>(
      static_cast<double>(options_.retry_max.count()),
      static_cast<double>(base.count()) * std::pow(2.0, std::min(attempts - 1, 30)));
  return static_cast<int64_t>(full * std::uniform_real_distribution<double>(0.5, 1.0)(rng));
}

size_t Dispatcher::send_due() {
  const int64_t now = to_ms(options_.clock());
  // Nothing new was queued and nothing waiting is due yet: no need to walk the outbox (during an
  // APNs outage or without a certificate it holds a push for every device with a command).
  if (now < next_due_ms_) return 0;
  auto due = collect_due(now);
  if (due.empty()) return 0;
  Round round(store_, now);
  size_t attempted = 0;
  for (auto& [topic, entries] : due) {
    send_topic(topic, entries, round);
    attempted += entries.size();
  }
  // Outcomes are durable before the outbox forgets: a crash in between repeats a push (harmless)
  // rather than losing one.
  record(round.outcomes);
  store_.write(round.state);
  pushes_sent_ += round.sent;
  pushes_failed_ += round.failed;
  tokens_invalidated_ += round.invalidated;
  return attempted;
}

void Dispatcher::send_topic(const std::string& topic,
                            std::vector<std::pair<std::string, PendingPush>>& entries,
                            Round& round) {
  std::vector<PushResult> results;
  if (pusher_.has_certificate(topic)) {
    const int64_t expiration = round.now / 1000 + options_.push_expiration.count();
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
    auto& [udid, pending] = entries[i];
    const PushResult& r = results[i];
    all_transient = all_transient && is_transient(r);
    certificate_refused = certificate_refused || r.status == 403;
    settle(topic, udid, pending, r, round);
  }
  // The circuit breaker: a topic whose whole round failed waits before it is tried again.
  if (certificate_refused) {
    topic_paused_until_ms_[topic] = round.now + options_.certificate_pause.count();
    logging::error(
        "APNs refused the push certificate or none is loaded; pushes for the topic "
        "wait until one works",
        {{"topic", topic}, {"reason", results.empty() ? "" : results[0].reason}});
  } else if (all_transient) {
    topic_paused_until_ms_[topic] =
        round.now + backoff_ms(++topic_failures_[topic], options_.retry_base);
  } else {
    topic_failures_.erase(topic);
    topic_paused_until_ms_.erase(topic);
  }
}

void Dispatcher::settle(const std::string& topic, const std::string& udid, PendingPush& p,
                        const PushResult& r, Round& round) {
  auto& state = round.state;
  if (r.status == 200) {
    state.erase(keys::pending(udid));
    state.put(keys::last_sent(udid), std::to_string(round.now));
    round.outcomes.push_back(events::make_event(udid, options_.node, "dispatcher",
                                                events::PushSent{topic, p.token_hex, r.apns_id}));
    ++round.sent;
    return;
  }
  const std::string reason = r.status ? r.reason : r.error;
  if (token_is_gone(r)) {
    state.erase(keys::pending(udid));
    if (auto target = state.load<DevicePushTarget>(keys::target(udid));
        target && target->token_hex == p.token_hex) {
      target->token_invalid = true;
      state.save(keys::target(udid), *target);
    }
    round.outcomes.push_back(
        events::make_event(udid, options_.node, "dispatcher",
                           events::PushTokenInvalidated{topic, p.token_hex, r.status, reason}));
    ++round.invalidated;
    return;
  }
  ++round.failed;
  ++p.attempts;
  const bool retry = is_transient(r) || r.status == 403;
  if (retry) {
    p.due_ms = round.now + (r.status == 403 || !pusher_.has_certificate(topic)
                                ? options_.certificate_pause.count()
                                : backoff_ms(p.attempts, options_.retry_base));
    state.save(keys::pending(udid), p);
    next_due_ms_ = std::min(next_due_ms_, p.due_ms);
  } else {
    state.erase(keys::pending(udid));  // a request APNs will never take: our bug, recorded
  }
  if (!retry || worth_recording(p.attempts))
    round.outcomes.push_back(events::make_event(
        udid, options_.node, "dispatcher",
        events::PushFailed{topic, r.status, reason, r.apns_id, p.attempts, retry}));
}

void Dispatcher::record(const std::vector<events::Event>& events) {
  std::vector<eventlog::RecordToAppend> records;
  for (const auto& e : events) records.push_back(events::to_record(e));
  log_.append(std::move(records));
}

size_t Dispatcher::sweep() {
  const int64_t now = to_ms(options_.clock());
  const int64_t repush = options_.repush_after.count(), inactive = options_.inactive_after.count();
  store::Batch state(store_);
  std::vector<events::Event> inactive_events;
  size_t queued = 0;
  std::string last_key;
  bool stopped_early = false;
  const std::string start = sweep_cursor_.empty() ? std::string() : sweep_cursor_ + '\0';
  store_.scan(keys::kTargetPrefix, start, [&](std::string_view key, std::string_view value) {
    last_key = std::string(key);
    const std::string udid(key.substr(keys::kTargetPrefix.size()));
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
      const auto sent = state.get(keys::last_sent(udid));
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
  store_.write(state);
  marked_inactive_ += inactive_events.size();
  return queued;
}

}  // namespace cairn::dispatcher
