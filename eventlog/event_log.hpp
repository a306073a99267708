// The event log: Cairn's source of truth. An append-only, durable, replayable sequence of records
// per partition, keyed by device so that all events of a device stay in order. The embedded log
// (eventlog/embedded_log.hpp) and the Kafka log implement this same interface.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/strong_types.hpp"

namespace cairn::eventlog {

struct RecordToAppend {
  std::string key;    // device ID: chooses the partition
  std::string type;   // event type, also a header for cheap filtering
  std::string value;  // the encoded event
};

struct LogRecord {
  LogPosition position;
  std::string key;
  std::string type;
  std::string value;
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends all records durably and returns their positions in order. Returns only once the
  // records survive a crash. Throws Unavailable if the log cannot take writes; then any of the
  // call's records may have been made durable, each whole (the embedded log makes a call's
  // records durable together, Kafka one by one). Callers treat every record of a failed call as
  // unknown and make a repeat harmless: a device resends (duplicate results change nothing), an
  // admin is told the command "may have been queued" and checks by its CommandUUID. Kafka
  // transactions would make a call all-or-nothing at a round trip more per device request.
  virtual std::vector<LogPosition> append(std::vector<RecordToAppend> records) = 0;

  virtual int32_t partition_count() const = 0;

  // Up to `max` durable records of `partition` from `from` on; if none is there yet, waits up to
  // `wait` for one. Throws Unavailable on read failures.
  virtual std::vector<LogRecord> read(PartitionId partition, Offset from, size_t max,
                                      std::chrono::milliseconds wait) = 0;

  // One past the last durable offset of `partition`.
  virtual Offset end_offset(PartitionId partition) const = 0;
};

// One pass of a consumer that keeps its own position (the dispatcher, the webhook deliverer): for
// each partition, up to `max` records from `position(partition)` on (waiting up to `wait` when
// none is there), handed to `take` when there are any. Returns how many were read.
inline size_t read_each_partition(
    EventLog& log, const std::function<Offset(PartitionId)>& position, size_t max,
    std::chrono::milliseconds wait,
    const std::function<void(PartitionId, const std::vector<LogRecord>&)>& take) {
  size_t read = 0;
  for (int32_t p = 0; p < log.partition_count(); ++p) {
    const PartitionId partition(p);
    const auto records = log.read(partition, position(partition), max, wait);
    if (records.empty()) continue;
    take(partition, records);
    read += records.size();
  }
  return read;
}

}  // namespace cairn::eventlog
