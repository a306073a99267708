#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace cairn {
namespace {

// Label values escape backslash, double quote and newline; help text backslash and newline.
std::string escaped(const std::string& s, bool quotes) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

void write_sample(std::ostringstream& out, const std::string& name, const Metrics::Labels& labels,
                  double value) {
  out << name;
  if (!labels.empty()) {
    out << '{';
    for (size_t i = 0; i < labels.size(); ++i)
      out << (i ? "," : "") << labels[i].first << "=\"" << escaped(labels[i].second, true) << '"';
    out << '}';
  }
  out << ' ';
  if (std::isnan(value))
    out << "NaN";
  else if (value == std::floor(value) && std::abs(value) < 1e15)
    out << static_cast<int64_t>(value);
  else
    out << value;
  out << '\n';
}

}  // namespace

Metrics::Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()))
    throw std::invalid_argument("histogram bounds must ascend");
  counts_.resize(bounds_.size() + 1);
}

void Metrics::Histogram::observe(double value) {
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[static_cast<size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Metrics::Counter& Metrics::counter(const std::string& name, const std::string& help,
                                   Labels labels) {
  std::lock_guard lock(mu_);
  for (auto& s : series_)
    if (s.name == name && s.labels == labels) return s.value;
  if (std::none_of(families_.begin(), families_.end(),
                   [&](const Family& f) { return f.name == name; }))
    families_.push_back({name, help, Kind::kCounter, nullptr, nullptr});
  auto& s = series_.emplace_back();
  s.name = name;
  s.labels = std::move(labels);
  return s.value;
}

void Metrics::gauge(const std::string& name, const std::string& help,
                    std::function<std::vector<Sample>()> read) {
  std::lock_guard lock(mu_);
  families_.push_back({name, help, Kind::kGauge, std::move(read), nullptr});
}

Metrics::Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> upper_bounds) {
  std::lock_guard lock(mu_);
  for (auto& f : families_)
    if (f.name == name && f.histogram) return *f.histogram;
  auto& h = histograms_.emplace_back(std::move(upper_bounds));
  families_.push_back({name, help, Kind::kHistogram, nullptr, &h});
  return h;
}

std::string Metrics::prometheus_text() const {
  std::vector<Family> families;
  {
    std::lock_guard lock(mu_);
    families = families_;
  }
  std::ostringstream out;
  for (const auto& f : families) {
    out << "# HELP " << f.name << ' ' << escaped(f.help, false) << '\n';
    static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};  // by Kind
    out << "# TYPE " << f.name << ' ' << kTypeNames[static_cast<size_t>(f.kind)] << '\n';
    if (f.kind == Kind::kCounter) {
      std::lock_guard lock(mu_);
      for (const auto& s : series_)
        if (s.name == f.name) write_sample(out, s.name, s.labels, static_cast<double>(s.value));
    } else if (f.kind == Kind::kGauge) {
      for (const auto& s : f.read()) write_sample(out, f.name, s.labels, s.value);
    } else {
      // Buckets are cumulative in the format; a scrape racing observations may show a count a
      // little off its buckets, which Prometheus tolerates.
      const Histogram& h = *f.histogram;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h.counts_.size(); ++i) {
        cumulative += h.counts_[i].load(std::memory_order_relaxed);
        std::ostringstream le;
        if (i < h.bounds_.size())
          le << h.bounds_[i];
        else
          le << "+Inf";
        write_sample(out, f.name + "_bucket", {{"le", le.str()}}, static_cast<double>(cumulative));
      }
      write_sample(out, f.name + "_sum", {}, h.sum_.load(std::memory_order_relaxed));
      write_sample(out, f.name + "_count", {}, static_cast<double>(cumulative));
    }
  }
  return out.str();
}

}  // namespace cairn
