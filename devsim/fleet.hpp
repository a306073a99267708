// A fleet of simulated devices driven against a server: enrollment and command sessions, with
// the faults real fleets show, and per-kind latency and error statistics.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
// "checkout"). Thread-safe to add to.
class Stats {
 public:
  void record(const std::string& kind, double micros, const std::string& error = "");
  void count(const std::string& what, int64_t n = 1);  // named events (e.g. "not_now")
  std::string json() const;  // {"kinds": {...percentiles...}, "errors": {...}, "counts": {...}}
  int64_t requests() const { return requests_; }
  int64_t errors() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<double>> latencies_;
  std::map<std::string, int64_t> errors_;
  std::map<std::string, int64_t> counts_;
  std::atomic<int64_t> requests_{0};
};

class Fleet {
 public:
  // Creates `size` devices with identities issued by `ca`; UDIDs are `<prefix>-<n>`.
  Fleet(Endpoint endpoint, const pki::Identity& ca, size_t size, const std::string& prefix,
        const std::string& topic, Faults faults, uint64_t seed);

  std::vector<std::string> udids() const;
  SimulatedDevice& device(size_t i) { return *members_[i].device; }
  bool silent(size_t i) const { return members_[i].silent; }
  size_t size() const { return members_.size(); }

  // Authenticate + TokenUpdate for every device, `concurrency` at a time.
  void enroll(int concurrency, Stats& stats);
  // One command session per (non-silent) device: Idle, then results until an empty answer;
  // devices that answered NotNow unlock and poll again until their queue is drained.
  void drain(int concurrency, Stats& stats);
  // Every (non-silent) device polls every `interval` (first polls spread over one interval)
  // until `duration` has passed, running a full session each time. Soak tests; stands in for
  // pushes until the APNs simulator wakes devices.
  void poll_on_schedule(int concurrency, std::chrono::milliseconds interval,
                        std::chrono::milliseconds duration, Stats& stats);

 private:
  struct Member {
    std::unique_ptr<SimulatedDevice> device;
    bool silent = false;
    bool checks_out = false;
    bool checked_out = false;
  };
  void run(int concurrency, const std::function<void(Member&, std::mt19937_64&)>& work);
  // One session; true if its last result was NotNow (the device then polls again later).
  // `first`: the device's first session of a drain (the only one that may start locked).
  bool session(Member& m, std::mt19937_64& rng, Stats& stats, bool first);
  // Sessions until nothing was refused, then CheckOut if this device is to check out.
  void sessions_until_drained(Member& m, std::mt19937_64& rng, Stats& stats);

  Endpoint endpoint_;
  Faults faults_;
  uint64_t seed_;
  std::vector<Member> members_;
};

}  // namespace cairn::devsim
