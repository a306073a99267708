// Wraps a real log and makes it fail on demand, to prove failures become 5xx (never 401) and that
// nothing is lost once the log recovers. Not a mock: every call that is not failed goes through.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "common/errors.hpp"
#include "eventlog/event_log.hpp"

namespace cairn::testing {

class FaultyLog final : public eventlog::EventLog {
 public:
  explicit FaultyLog(std::unique_ptr<eventlog::EventLog> inner) : inner_(std::move(inner)) {}

  std::atomic<bool> fail_appends{false};
  std::atomic<int> appends_before_failing{-1};  // then every append fails; -1: never
  std::atomic<bool> stall_reads{false};         // the projector sees no new records

  std::vector<LogPosition> append(std::vector<eventlog::RecordToAppend> records) override {
    if (appends_before_failing == 0) fail_appends = true;
    if (appends_before_failing > 0) --appends_before_failing;
    if (fail_appends) throw Unavailable("injected log failure");
    return inner_->append(std::move(records));
  }
  int32_t partition_count() const override { return inner_->partition_count(); }
  std::vector<eventlog::LogRecord> read(PartitionId p, Offset from, size_t max,
                                        std::chrono::milliseconds wait) override {
    if (stall_reads) {
      std::this_thread::sleep_for(wait);
      return {};
    }
    return inner_->read(p, from, max, wait);
  }
  Offset end_offset(PartitionId p) const override { return inner_->end_offset(p); }

 private:
  std::unique_ptr<eventlog::EventLog> inner_;
};

}  // namespace cairn::testing
