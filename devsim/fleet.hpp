// A fleet of simulated devices driven against a server: enrollment and command sessions, with
// the faults real fleets show, and per-kind latency and error statistics.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "devsim/connection.hpp"
#include "devsim/simulated_device.hpp"

namespace cairn::devsim {

// Probabilities, per device session unless noted.
struct Faults {
  double locked = 0;     // locked at session start: NotNow to what may be refused, poll again later
  double duplicate = 0;  // per result: sent twice
  double lost = 0;       // per result: the answer is lost, the device reconnects and resends it
  double checkout = 0;   // per device, after its session: sends CheckOut and leaves
  double silent = 0;     // per device: never polls
};

// Latencies and errors by request kind ("authenticate", "token_update", "idle", "result",
// "checkout", "ddm_sync": a whole declarative sync, "ddm_status"). Thread-safe to add to.
class Stats {
 public:
  // `requests` requests (one round trip, or a DDM sync's several) took `micros` in all.
  void record(const std::string& kind, double micros, const std::string& error = "",
              int64_t requests = 1);
  void record_latency(const std::string& kind, double micros);  // not a request (push delays)
  void count(const std::string& what, int64_t n = 1);           // named events (e.g. "not_now")
  std::string json() const;  // {"kinds": {...percentiles...}, "errors": {...}, "counts": {...}}
  int64_t requests() const { return requests_; }
  int64_t counted(const std::string& what) const;  // count()'s total for `what`
  int64_t errors() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<double>> latencies_;
  std::map<std::string, int64_t> errors_;
  std::map<std::string, int64_t> counts_;
  std::atomic<int64_t> requests_{0};
};

// What kinds of enrollment a fleet has, as shares of its devices.
struct Mix {
  double user_enrollments = 0;  // User Enrollments (named by EnrollmentID, `<prefix>-UE-<n>`)
  // Macs with a user logged in: the user's channel (`<UDID>:USER-<n>`) is a member of its own,
  // right after its device, with its own push token and queue.
  double mac_users = 0;
};

class Fleet {
 public:
  // Creates `size` devices with identities issued by `ca`; UDIDs are `<prefix>-<n>`. Device n
  // talks to endpoints[n % endpoints.size()] (several ingest nodes behind no balancer).
  Fleet(std::vector<Endpoint> endpoints, const pki::Identity& ca, size_t size,
        const std::string& prefix, const std::string& topic, Faults faults, uint64_t seed,
        Mix mix = {});

  // Every member's channel ID (protocol::Channel): what commands are queued to.
  std::vector<std::string> udids() const;
  // Member i: a device, or a user's channel on the device before it.
  SimulatedDevice& device(size_t i) { return *members_[i].device; }
  bool silent(size_t i) const { return members_[i].silent; }
  size_t size() const { return members_.size(); }

  // Authenticate + TokenUpdate for every device, `concurrency` at a time; then UserAuthenticate +
  // TokenUpdate for every user channel.
  void enroll(int concurrency, Stats& stats);
  // Automated Device Enrollment instead (device channels only): device i is the one Apple
  // Business Manager knows as serials[i]; at first boot it sends its MachineInfo signed by an
  // identity from `device_ca` to `enroll_path`, follows the profile to its identity
  // (devsim/ade_first_boot), then Authenticate + TokenUpdate (AwaitingConfiguration). Stats:
  // "ade_first_boot" (MachineInfo to identity), then as enroll().
  void enroll_automated(int concurrency, const std::vector<std::string>& serials,
                        const pki::Identity& device_ca, const std::string& enroll_path,
                        Stats& stats);
  // One command session per (non-silent) device: Idle, then results until an empty answer;
  // devices that answered NotNow unlock and poll again until their queue is drained.
  void drain(int concurrency, Stats& stats);
  // Every (non-silent) device's user removes (or sets again) its passcode, and the device sends a
  // status report (DDM): passcode.is-present and is-compliant change. The load of devices
  // reporting a change, without a sync before it.
  void report_status(int concurrency, Stats& stats);
  // Every (non-silent) device polls every `interval` (first polls spread over one interval)
  // until `duration` has passed, running a full session each time. Soak tests without pushes.
  void poll_on_schedule(int concurrency, std::chrono::milliseconds interval,
                        std::chrono::milliseconds duration, Stats& stats);

  // Devices that poll when pushed, as real ones do. wake() is the APNs simulator's hook: it
  // queues a session for the device the push was addressed to (thread-safe; callable before
  // poll_on_push runs). A device runs one session at a time; a push that arrives during one
  // gets one more session after it. poll_on_push serves the queued sessions with `concurrency`
  // workers until `expected_commands` commands were completed fleet-wide (true) or nothing
  // happened for `quiet` (false). Devices do not check out in this mode: each push may bring
  // more work. Stats: "enqueue_to_push" (the first command queued for a device, see
  // commands_queued, -> its first push accepted: the server's dispatch latency), "push_to_poll"
  // (push accepted -> session starts: includes waiting for a worker), and pushes that woke nobody.
  void wake(const std::string& token_hex);
  // Members [first, last) had a command queued just now (the start of enqueue_to_push).
  void commands_queued(size_t first, size_t last);
  bool poll_on_push(int concurrency, int64_t expected_commands, std::chrono::milliseconds quiet,
                    Stats& stats);
  int64_t commands_completed() const { return commands_completed_; }
  // TLS handshakes of every member's connections so far: {new sessions, resumed sessions}.
  std::pair<int64_t, int64_t> tls_handshakes() const;

 private:
  struct Member {
    std::unique_ptr<SimulatedDevice> device;
    const Endpoint* endpoint = nullptr;                                // in endpoints_
    std::unique_ptr<TlsSession> tls = std::make_unique<TlsSession>();  // resumed by the next
    bool silent = false;
    bool checks_out = false;
    bool checked_out = false;
    // Push mode, guarded by wake_mu_.
    bool queued = false;                              // waiting for a worker
    bool running = false;                             // in a session
    bool woken_again = false;                         // pushed during its session
    std::chrono::steady_clock::time_point pushed_at;  // the push that queued it
    std::optional<std::chrono::steady_clock::time_point> first_queued_at;  // unset once pushed
    bool pushed = false;
  };
  void run(int concurrency, const std::function<void(Member&, std::mt19937_64&)>& work);
  // Authenticate (UserAuthenticate for a user channel) and TokenUpdate; false if one failed.
  bool check_in_to_enroll(Member& m, Stats& stats);
  // One session; true if its last result was NotNow (the device then polls again later).
  // `first`: the device's first session of a drain (the only one that may start locked).
  bool session(Member& m, std::mt19937_64& rng, Stats& stats, bool first);
  // Sessions until nothing was refused, then CheckOut if this device is to check out (and
  // `may_check_out`).
  void sessions_until_drained(Member& m, std::mt19937_64& rng, Stats& stats,
                              bool may_check_out = true);
  void queue_session(size_t index);  // wake_mu_ held

  std::vector<Endpoint> endpoints_;
  Faults faults_;
  uint64_t seed_;
  std::vector<Member> members_;
  std::atomic<int64_t> commands_completed_{0};

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;                   // workers: a session is ready
  std::condition_variable progress_cv_;               // poll_on_push: a session ended
  std::unordered_map<std::string, size_t> by_token_;  // hex push token -> member
  std::deque<size_t> ready_;                          // devices woken, waiting for a worker
  int64_t pushes_to_nobody_ = 0;
  std::vector<double> enqueue_to_push_us_;  // recorded into Stats by poll_on_push
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace cairn::devsim
