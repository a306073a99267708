// What a process counts, exposed in Prometheus's text format (version 0.0.4) at GET /metrics.
// Counters and histograms are registered once and bumped without locks; gauges are read when
// scraped, from wherever the truth already is (a store position, the certificates in the
// projection), so nothing is counted twice.
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

  // Observations counted into fixed buckets (upper bounds, ascending), as Prometheus histograms
  // are: a percentile is estimated from the buckets (histogram_quantile), never stored.
  class Histogram {
   public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);

   private:
    friend class Metrics;
    std::vector<double> bounds_;
    std::deque<Counter> counts_;  // per bucket, not cumulative; the last one is +Inf
    std::atomic<double> sum_{0};
  };

  // The counter `name` with these labels, created at 0 on first use; the reference stays valid
  // for the registry's life. Callers on a hot path keep the reference.
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  // The histogram `name`, created on first use (later calls return it; their bounds are ignored).
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds);
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
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    std::string name;
    std::string help;
    Kind kind = Kind::kCounter;
    std::function<std::vector<Sample>()> read;  // gauges
    Histogram* histogram = nullptr;             // histograms
  };
  mutable std::mutex mu_;
  std::vector<Family> families_;      // in registration order
  std::deque<CounterSeries> series_;  // deques: references stay valid as they grow
  std::deque<Histogram> histograms_;
};

}  // namespace cairn
