#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

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

Metrics::Counter& Metrics::counter(const std::string& name, const std::string& help,
                                   Labels labels) {
  std::lock_guard lock(mu_);
  for (auto& s : series_)
    if (s.name == name && s.labels == labels) return s.value;
  if (std::none_of(families_.begin(), families_.end(),
                   [&](const Family& f) { return f.name == name; }))
    families_.push_back({name, help, true, nullptr});
  auto& s = series_.emplace_back();
  s.name = name;
  s.labels = std::move(labels);
  return s.value;
}

void Metrics::gauge(const std::string& name, const std::string& help,
                    std::function<std::vector<Sample>()> read) {
  std::lock_guard lock(mu_);
  families_.push_back({name, help, false, std::move(read)});
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
    out << "# TYPE " << f.name << (f.is_counter ? " counter" : " gauge") << '\n';
    if (f.is_counter) {
      std::lock_guard lock(mu_);
      for (const auto& s : series_)
        if (s.name == f.name) write_sample(out, s.name, s.labels, static_cast<double>(s.value));
    } else {
      for (const auto& s : f.read()) write_sample(out, f.name, s.labels, s.value);
    }
  }
  return out.str();
}

}  // namespace cairn
