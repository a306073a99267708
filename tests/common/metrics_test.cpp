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

}  // namespace
}  // namespace cairn
