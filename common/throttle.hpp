// Lets the first occurrence of a key through per interval and counts the rest, so that a flood of
// the same thing (refusals from one address) costs a counter, not a durable write and a log line.
// Bounded: it tracks at most `max_keys` keys; beyond that, new keys share one overflow entry.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace cairn {

class KeyedThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  KeyedThrottle(Clock::duration interval, size_t max_keys)
      : interval_(interval), max_keys_(max_keys) {}

  // nullopt: suppressed (counted). Otherwise let through, with the number of occurrences of the
  // key suppressed since the last one let through.
  std::optional<uint64_t> admit(const std::string& key, Clock::time_point now = Clock::now());
  uint64_t suppressed_total() const;

 private:
  struct Entry {
    Clock::time_point let_through_at;
    uint64_t suppressed = 0;
  };
  const Clock::duration interval_;
  const size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  uint64_t suppressed_total_ = 0;
};

}  // namespace cairn
