#include "common/throttle.hpp"

#include <iterator>

namespace cairn {

std::optional<uint64_t> KeyedThrottle::admit(const std::string& key, Clock::time_point now) {
  static const std::string kOverflow = "(other keys)";
  const std::lock_guard lock(mutex_);
  if (entries_.size() >= max_keys_ && !entries_.contains(key)) {
    // Forget keys whose interval is over and that have nothing pending; if none, share one entry.
    std::erase_if(entries_, [&](const auto& e) {
      return e.second.suppressed == 0 && now - e.second.let_through_at >= interval_;
    });
  }
  const std::string& slot =
      entries_.size() >= max_keys_ && !entries_.contains(key) ? kOverflow : key;
  auto [it, fresh] = entries_.try_emplace(slot, Entry{now, 0});
  if (fresh) return 0;
  Entry& entry = it->second;
  if (now - entry.let_through_at < interval_) {
    ++entry.suppressed;
    ++suppressed_total_;
    return std::nullopt;
  }
  const uint64_t suppressed = entry.suppressed;
  entry = Entry{now, 0};
  return suppressed;
}

uint64_t KeyedThrottle::suppressed_total() const {
  const std::lock_guard lock(mutex_);
  return suppressed_total_;
}

}  // namespace cairn
