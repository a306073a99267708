#include "devsim/fleet.hpp"

#include <algorithm>
#include <thread>

#include "common/json_writer.hpp"
#include "devsim/ade_first_boot.hpp"
#include "devsim/declarative_sync.hpp"
#include "plist/plist.hpp"

namespace cairn::devsim {
namespace {

using Clock = std::chrono::steady_clock;

std::string error_of(const httplib::Result& r) {
  if (!r) return "transport:" + httplib::to_string(r.error());
  if (r->status != 200) return "http:" + std::to_string(r->status);
  return {};
}

std::string command_uuid_of(const std::string& body) {
  if (body.empty()) return {};
  return Plist::parse(body).string("CommandUUID").value_or("");
}

std::string status_of(const std::string& result) {
  return Plist::parse(result).string("Status").value_or("");
}

}  // namespace

void Stats::record(const std::string& kind, double micros, const std::string& error,
                   int64_t requests) {
  requests_ += requests;
  record_latency(kind, micros);
  if (error.empty()) return;
  std::lock_guard lock(mu_);
  ++errors_[kind + " " + error];
}

void Stats::record_latency(const std::string& kind, double micros) {
  std::lock_guard lock(mu_);
  latencies_[kind].push_back(micros);
}

void Stats::count(const std::string& what, int64_t n) {
  std::lock_guard lock(mu_);
  counts_[what] += n;
}

int64_t Stats::counted(const std::string& what) const {
  std::lock_guard lock(mu_);
  const auto it = counts_.find(what);
  return it == counts_.end() ? 0 : it->second;
}

int64_t Stats::errors() const {
  std::lock_guard lock(mu_);
  int64_t n = 0;
  for (const auto& [_, c] : errors_) n += c;
  return n;
}

std::string Stats::json() const {
  std::lock_guard lock(mu_);
  JsonWriter j;
  j.begin_object().key("kinds").begin_object();
  for (const auto& [kind, recorded] : latencies_) {
    auto values = recorded;  // sorted apart (and not a binding: clang before 16 cannot capture one)
    std::sort(values.begin(), values.end());
    auto pct = [&](double p) {
      return static_cast<int64_t>(
          values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))]);
    };
    j.key(kind).begin_object().field("count", static_cast<int64_t>(values.size()));
    j.field("p50_us", pct(0.50)).field("p95_us", pct(0.95)).field("p99_us", pct(0.99));
    j.field("max_us", static_cast<int64_t>(values.back())).end_object();
  }
  j.end_object().key("errors").begin_object();
  for (const auto& [what, n] : errors_) j.field(what, n);
  j.end_object().key("counts").begin_object();
  for (const auto& [what, n] : counts_) j.field(what, n);
  j.end_object().end_object();
  return j.str();
}

Fleet::Fleet(std::vector<Endpoint> endpoints, const pki::Identity& ca, size_t size,
             const std::string& prefix, const std::string& topic, Faults faults, uint64_t seed,
             Mix mix)
    : endpoints_(std::move(endpoints)), faults_(faults), seed_(seed) {
  if (endpoints_.empty()) throw std::invalid_argument("a fleet needs a server endpoint");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> chance(0, 1);
  members_.reserve(size);
  auto add = [this](Member m) {
    by_token_.emplace(m.device->push_token_hex(), members_.size());
    members_.push_back(std::move(m));
  };
  for (size_t i = 0; i < size; ++i) {
    const bool user = mix.user_enrollments > 0 && chance(rng) < mix.user_enrollments;
    const std::string udid = prefix + (user ? "-UE-" : "-") + std::to_string(i);
    auto identity = pki::issue_certificate(ca, udid, pki::CertUsage::kClient, {}, 30);
    Member m;
    m.device = std::make_unique<SimulatedDevice>(
        udid, std::move(identity), topic, rng(),
        user ? SimulatedDevice::Enrollment::kUser : SimulatedDevice::Enrollment::kDevice);
    m.endpoint = &endpoints_[i % endpoints_.size()];
    m.silent = chance(rng) < faults.silent;
    m.checks_out = chance(rng) < faults.checkout;
    if (user || !(mix.mac_users > 0 && chance(rng) < mix.mac_users)) {
      add(std::move(m));
      continue;
    }
    Member logged_in;
    logged_in.device = std::make_unique<SimulatedDevice>(
        SimulatedDevice::mac_user(*m.device, "USER-" + std::to_string(i), rng()));
    logged_in.endpoint = m.endpoint;
    logged_in.silent = m.silent;  // a Mac that is off is off for its user too
    m.checks_out = false;         // its user's channel would end with it
    add(std::move(m));
    add(std::move(logged_in));
  }
}

std::vector<std::string> Fleet::udids() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m.device->channel_id());
  return out;
}

void Fleet::run(int concurrency, const std::function<void(Member&, std::mt19937_64&)>& work) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, concurrency); ++w)
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(seed_ + static_cast<uint64_t>(w) * 7919);
      for (size_t i; (i = next++) < members_.size();) work(members_[i], rng);
    });
  for (auto& t : workers) t.join();
}

std::pair<int64_t, int64_t> Fleet::tls_handshakes() const {
  std::pair<int64_t, int64_t> sum;
  for (const auto& m : members_) {
    sum.first += m.tls->new_handshakes;
    sum.second += m.tls->resumed_handshakes;
  }
  return sum;
}

bool Fleet::check_in_to_enroll(Member& m, Stats& stats) {
  DeviceConnection connection(*m.endpoint, m.device->identity(), m.tls.get());
  const bool user = m.device->is_user_channel();
  const auto first = user ? std::pair{"user_authenticate", m.device->user_authenticate()}
                          : std::pair{"authenticate", m.device->authenticate()};
  for (const auto& [kind, body] : {first, std::pair{"token_update", m.device->token_update()}}) {
    const auto start = Clock::now();
    auto r = connection.checkin(body);
    stats.record(kind, std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
                 error_of(r));
    if (!r || r->status != 200) return false;
  }
  return true;
}

void Fleet::enroll(int concurrency, Stats& stats) {
  // Devices first: a user's channel speaks with its device's identity, once that is enrolled.
  for (const bool users : {false, true})
    run(concurrency, [&](Member& m, std::mt19937_64&) {
      if (m.device->is_user_channel() == users) check_in_to_enroll(m, stats);
    });
}

void Fleet::enroll_automated(int concurrency, const std::vector<std::string>& serials,
                             const pki::Identity& device_ca, const std::string& enroll_path,
                             Stats& stats) {
  std::atomic<size_t> next_serial{0};
  run(concurrency, [&](Member& m, std::mt19937_64&) {
    if (m.device->is_user_channel()) return;
    const size_t i = next_serial++;
    if (i >= serials.size()) return;
    m.device->begin_automated_enrollment(serials[i]);
    // Its hardware identity, as Apple's device CA would have issued it.
    const auto signer =
        pki::issue_certificate(device_ca, m.device->udid(), pki::CertUsage::kClient, {}, 30);
    const auto start = Clock::now();
    std::string error;
    try {
      m.device->adopt_identity(first_boot(*m.endpoint, enroll_path, *m.device, signer));
    } catch (const std::exception& e) {
      error = e.what();
    }
    stats.record("ade_first_boot",
                 std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
                 error.substr(0, 80), 3);  // MachineInfo, GetCACert, PKIOperation
    if (error.empty()) check_in_to_enroll(m, stats);
  });
}

bool Fleet::session(Member& m, std::mt19937_64& rng, Stats& stats, bool first) {
  std::uniform_real_distribution<double> chance(0, 1);
  auto connection =
      std::make_unique<DeviceConnection>(*m.endpoint, m.device->identity(), m.tls.get());
  auto timed = [&](const char* kind, const std::string& body) {
    const auto start = Clock::now();
    auto r = connection->report(body);
    stats.record(kind, std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
                 error_of(r));
    return r;
  };
  if (first && chance(rng) < faults_.locked) m.device->set_locked(true);  // unlocked on re-polls
  bool last_was_not_now = false;
  std::vector<std::string> finished;  // commands this device completed in this session
  auto r = timed("idle", m.device->idle());
  while (r && r->status == 200 && !r->body.empty()) {
    const std::string uuid = command_uuid_of(r->body);
    if (std::find(finished.begin(), finished.end(), uuid) != finished.end())
      stats.count("protocol_violation: finished command sent again");
    const std::string result = m.device->execute(r->body);
    const std::string status = status_of(result);
    last_was_not_now = status == "NotNow";
    if (last_was_not_now)
      stats.count("not_now");
    else
      finished.push_back(uuid);
    r = timed("result", result);
    if (!last_was_not_now && r && r->status == 200) ++commands_completed_;
    if (r && r->status == 200 && chance(rng) < faults_.duplicate) {
      stats.count("duplicate_result");
      r = timed("result", result);
    }
    if (r && r->status == 200 && chance(rng) < faults_.lost) {
      // The answer never arrived: the device reconnects and sends the result again.
      stats.count("lost_result");
      connection =
          std::make_unique<DeviceConnection>(*m.endpoint, m.device->identity(), m.tls.get());
      r = timed("result", result);
    }
    if (m.device->erased()) break;  // wiped: it does not poll again
  }
  // A DeclarativeManagement command asked for a declarative sync: the device runs it now.
  if (m.device->take_sync_request() && !m.device->erased()) {
    const auto start = Clock::now();
    const auto synced = sync_declarations(*m.device, *connection);
    stats.record("ddm_sync",
                 std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
                 synced.error.substr(0, synced.error.find(' ', synced.error.find(' ') + 1)),
                 synced.requests);  // "<endpoint>: <status>", without the answer's body
    stats.count("ddm_declarations_fetched", synced.declarations_fetched);
    if (synced.reported) stats.count("ddm_status_reports");
  }
  m.device->set_locked(false);  // the user unlocks it
  // As Apple documents: a device polls again by itself only if NotNow was the last status it
  // sent. A command refused earlier in the session would otherwise wait for a push.
  return last_was_not_now && r && r->status == 200;
}

void Fleet::sessions_until_drained(Member& m, std::mt19937_64& rng, Stats& stats,
                                   bool may_check_out) {
  for (bool first = true; session(m, rng, stats, first); first = false)
    stats.count("repoll_after_not_now");
  if (!m.checks_out || !may_check_out) return;
  DeviceConnection connection(*m.endpoint, m.device->identity(), m.tls.get());
  const auto start = Clock::now();
  auto r = connection.checkin(m.device->checkout());
  stats.record("checkout", std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
               error_of(r));
  m.checked_out = true;
}

void Fleet::drain(int concurrency, Stats& stats) {
  run(concurrency, [&](Member& m, std::mt19937_64& rng) {
    if (m.silent) {
      stats.count("silent_device");
      return;
    }
    if (!m.checked_out && !m.device->erased()) sessions_until_drained(m, rng, stats);
  });
}

void Fleet::report_status(int concurrency, Stats& stats) {
  run(concurrency, [&](Member& m, std::mt19937_64&) {
    if (m.silent || m.checked_out || m.device->erased()) return;
    m.device->set_passcode_present(!m.device->passcode_present());
    DeviceConnection connection(*m.endpoint, m.device->identity(), m.tls.get());
    const auto start = Clock::now();
    auto r =
        connection.checkin(m.device->declarative_management("status", m.device->status_report()));
    stats.record("ddm_status",
                 std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
                 error_of(r));
  });
}

void Fleet::poll_on_schedule(int concurrency, std::chrono::milliseconds interval,
                             std::chrono::milliseconds duration, Stats& stats) {
  const auto start = Clock::now();
  const auto end = start + duration;
  const auto spread = std::chrono::duration_cast<std::chrono::nanoseconds>(interval) /
                      static_cast<int64_t>(std::max<size_t>(1, members_.size()));
  // Each worker owns every concurrency-th device and serves its polls in due order.
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, concurrency); ++w)
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(seed_ + static_cast<uint64_t>(w) * 104729);
      std::vector<std::pair<Clock::time_point, size_t>> due;
      for (size_t i = static_cast<size_t>(w); i < members_.size();
           i += static_cast<size_t>(std::max(1, concurrency)))
        if (!members_[i].silent)
          due.emplace_back(
              start + std::chrono::duration_cast<Clock::duration>(spread * static_cast<int64_t>(i)),
              i);
      while (!due.empty()) {
        std::sort(due.begin(), due.end());
        auto& [when, i] = due.front();
        if (when >= end) break;
        std::this_thread::sleep_until(when);
        Member& m = members_[i];
        if (!m.checked_out && !m.device->erased()) sessions_until_drained(m, rng, stats);
        when += interval;
      }
    });
  for (auto& t : workers) t.join();
}

void Fleet::queue_session(size_t index) {
  Member& m = members_[index];
  m.queued = true;
  ready_.push_back(index);
  wake_cv_.notify_one();
}

void Fleet::wake(const std::string& token_hex) {
  std::lock_guard lock(wake_mu_);
  last_activity_ = Clock::now();
  const auto found = by_token_.find(token_hex);
  if (found == by_token_.end()) {
    ++pushes_to_nobody_;
    return;
  }
  Member& m = members_[found->second];
  if (!m.pushed && m.first_queued_at)
    enqueue_to_push_us_.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - *m.first_queued_at).count());
  m.pushed = true;
  if (m.silent || m.queued) return;  // a silent device never polls; a queued one will anyway
  if (!m.woken_again) m.pushed_at = Clock::now();  // the first push its next session serves
  if (m.running)
    m.woken_again = true;
  else
    queue_session(found->second);
}

void Fleet::commands_queued(size_t first, size_t last) {
  std::lock_guard lock(wake_mu_);
  const auto now = Clock::now();
  for (size_t i = first; i < std::min(last, members_.size()); ++i)
    if (!members_[i].first_queued_at) members_[i].first_queued_at = now;
}

bool Fleet::poll_on_push(int concurrency, int64_t expected_commands,
                         std::chrono::milliseconds quiet, Stats& stats) {
  bool stopping = false;
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, concurrency); ++w)
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(seed_ + static_cast<uint64_t>(w) * 15485863);
      std::unique_lock lock(wake_mu_);
      while (true) {
        wake_cv_.wait(lock, [&] { return stopping || !ready_.empty(); });
        if (stopping) return;
        const size_t index = ready_.front();
        ready_.pop_front();
        Member& m = members_[index];
        m.queued = false;
        m.running = true;
        stats.record_latency(
            "push_to_poll",
            std::chrono::duration<double, std::micro>(Clock::now() - m.pushed_at).count());
        lock.unlock();
        if (!m.device->erased()) sessions_until_drained(m, rng, stats, false);
        lock.lock();
        m.running = false;
        last_activity_ = Clock::now();
        if (m.woken_again) {
          m.woken_again = false;
          queue_session(index);
        }
        progress_cv_.notify_one();
      }
    });
  std::unique_lock lock(wake_mu_);
  last_activity_ = Clock::now();
  while (commands_completed_ < expected_commands) {
    const auto deadline = last_activity_ + quiet;
    if (Clock::now() >= deadline) break;
    progress_cv_.wait_until(lock, deadline);
  }
  stopping = true;
  wake_cv_.notify_all();
  lock.unlock();
  for (auto& t : workers) t.join();
  if (pushes_to_nobody_) stats.count("push_to_unknown_token", pushes_to_nobody_);
  for (double us : enqueue_to_push_us_) stats.record_latency("enqueue_to_push", us);
  return commands_completed_ >= expected_commands;
}

}  // namespace cairn::devsim
