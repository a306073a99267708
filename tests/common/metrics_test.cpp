#include "common/metrics.hpp"

#include <gtest/gtest.h>

namespace cairn {
namespace {

TEST(Metrics, CountersAndGaugesInPrometheusTextFormat) {
  Metrics m;
  auto& sent = m.counter("pushes_total", "Pushes by outcome", {{"outcome", "sent"}});
  m.counter("pushes_total", "Pushes by outcome", {{"outcome", "failed"}}) += 2;
  sent += 3;
  ++m.counter("pushes_total", "Pushes by outcome", {{"outcome", "sent"}});  // the same series
  m.gauge("expiry", "Expiry\nper topic", [] {
    Metrics::Sample odd{{{"topic", "odd\"topic\\"}}, 1.5};
    return std::vector<Metrics::Sample>{odd};
  });
  EXPECT_EQ(m.prometheus_text(),
            "# HELP pushes_total Pushes by outcome\n"
            "# TYPE pushes_total counter\n"
            "pushes_total{outcome=\"sent\"} 4\n"
            "pushes_total{outcome=\"failed\"} 2\n"
            "# HELP expiry Expiry\\nper topic\n"
            "# TYPE expiry gauge\n"
            "expiry{topic=\"odd\\\"topic\\\\\"} 1.5\n");
}

TEST(Metrics, CounterReferencesStayValidAsSeriesAreAdded) {
  Metrics m;
  auto& first = m.counter("c", "h", {{"n", "0"}});
  for (int i = 1; i < 1000; ++i) m.counter("c", "h", {{"n", std::to_string(i)}});
  ++first;
  EXPECT_NE(m.prometheus_text().find("c{n=\"0\"} 1\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  auto& delay = m.histogram("delay_seconds", "Delay", {0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.001, 0.005, 0.05, 0.05, 2.0}) delay.observe(v);
  EXPECT_EQ(&delay, &m.histogram("delay_seconds", "Delay", {}));  // the same histogram
  EXPECT_EQ(m.prometheus_text(),
            "# HELP delay_seconds Delay\n"
            "# TYPE delay_seconds histogram\n"
            "delay_seconds_bucket{le=\"0.001\"} 2\n"  // an upper bound is inclusive
            "delay_seconds_bucket{le=\"0.01\"} 3\n"
            "delay_seconds_bucket{le=\"0.1\"} 5\n"
            "delay_seconds_bucket{le=\"+Inf\"} 6\n"
            "delay_seconds_sum 2.1065\n"
            "delay_seconds_count 6\n");
  EXPECT_THROW(Metrics::Histogram({1.0, 0.5}), std::invalid_argument);
}

}  // namespace
}  // namespace cairn
