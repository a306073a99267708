// What a process counts, exposed in Prometheus's text format (version 0.0.4) at GET /metrics.
// Counters are registered once and bumped without locks; gauges are read when scraped, from
// wherever the truth already is (a store position, the certificates in the projection), so
// nothing is counted twice.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cairn {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  struct Sample {
    Labels labels;
    double value = 0;
  };
  using Counter = std::atomic<uint64_t>;

  // The counter `name` with these labels, created at 0 on first use; the reference stays valid
  // for the registry's life. Callers on a hot path keep the reference.
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  // A gauge whose samples `read` returns at scrape time (called without the registry's lock).
  void gauge(const std::string& name, const std::string& help,
             std::function<std::vector<Sample>()> read);

  std::string prometheus_text() const;

 private:
  struct CounterSeries {
    std::string name;
    Labels labels;
    Counter value{0};
  };
  struct Family {
    std::string name;
    std::string help;
    bool is_counter = true;
    std::function<std::vector<Sample>()> read;  // gauges
  };
  mutable std::mutex mu_;
  std::vector<Family> families_;      // in registration order
  std::deque<CounterSeries> series_;  // a deque: references stay valid as it grows
};

}  // namespace cairn
