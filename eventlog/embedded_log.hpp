// The embedded durable log: one append-only file in the data directory, one partition.
//
// Record framing: u32 length of the rest | u32 CRC-32 of the rest | u16 key length | key |
// u16 type length | type | value (little-endian). Appends go through group commit: a writer
// thread takes every append pending at that moment, writes them with one write(2) and one
// fdatasync(2), then wakes their callers, so concurrent devices share the cost of the sync.
// On open the file is scanned; a torn or corrupt tail (a crash mid-write) is truncated away. Only
// records after the last successful sync can be lost, and their callers were never answered.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "eventlog/event_log.hpp"

namespace cairn::eventlog {

class EmbeddedLog final : public EventLog {
 public:
  enum class Mode {
    kReadWrite,  // the one writer: takes an exclusive lock, repairs a torn tail
    kReadOnly,   // readers such as `cairn replay`, safe beside a running server
  };
  // Opens or creates <dir>/events.log. Throws std::runtime_error if it cannot (or, for kReadWrite,
  // if another process has it open for writing).
  explicit EmbeddedLog(const std::string& dir, Mode mode = Mode::kReadWrite);
  ~EmbeddedLog() override;
  EmbeddedLog(const EmbeddedLog&) = delete;
  EmbeddedLog& operator=(const EmbeddedLog&) = delete;

  std::vector<LogPosition> append(std::vector<RecordToAppend> records) override;
  int32_t partition_count() const override { return 1; }
  std::vector<LogRecord> read(PartitionId partition, Offset from, size_t max,
                              std::chrono::milliseconds wait) override;
  Offset end_offset(PartitionId partition) const override;

  // Bytes discarded from a torn tail when the file was opened (0 after a clean shutdown).
  uint64_t truncated_bytes_at_open() const { return truncated_bytes_; }

 private:
  struct PendingBatch {
    std::string bytes;
    std::vector<uint64_t> record_starts;  // file offsets relative to the batch start
    bool done = false;
    bool failed = false;
    int64_t first_offset = 0;
  };

  void recover();
  void writer_loop();
  void check_partition(PartitionId p) const;

  std::string path_;
  Mode mode_;
  int fd_ = -1;
  uint64_t truncated_bytes_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // the writer waits for appends
  std::condition_variable durable_cv_;  // appenders and readers wait for syncs
  std::shared_ptr<PendingBatch> open_batch_;
  std::vector<uint64_t> record_offsets_;  // file offset of every durable record
  uint64_t file_size_ = 0;
  bool failed_ = false;  // a write or sync failed: refuse appends (the file's tail is unknown)
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace cairn::eventlog
