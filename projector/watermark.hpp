// How far the projection has applied the log, per partition, and a wait for it. This is the
// read-your-writes primitive: ingest appends an event, then waits here until the projection it
// reads from has applied that event's position before answering the device.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "common/strong_types.hpp"

namespace cairn::projector {

class AppliedWatermark {
 public:
  // Everything before `next` in `partition` has been applied.
  void advance(PartitionId partition, Offset next);
  Offset next(PartitionId partition) const;
  // True once `position` is applied; false if `deadline` passes first.
  bool wait_applied(LogPosition position, std::chrono::steady_clock::time_point deadline) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<PartitionId, Offset> next_;
};

}  // namespace cairn::projector
