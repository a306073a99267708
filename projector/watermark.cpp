#include "projector/watermark.hpp"

namespace cairn::projector {

void AppliedWatermark::advance(PartitionId partition, Offset next) {
  {
    std::lock_guard lock(mu_);
    auto& current = next_[partition];
    if (next > current) current = next;
  }
  cv_.notify_all();
}

Offset AppliedWatermark::next(PartitionId partition) const {
  std::lock_guard lock(mu_);
  auto it = next_.find(partition);
  return it == next_.end() ? Offset(0) : it->second;
}

bool AppliedWatermark::wait_applied(LogPosition position,
                                    std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] {
    auto it = next_.find(position.partition);
    return it != next_.end() && position.offset < it->second;
  });
}

}  // namespace cairn::projector
