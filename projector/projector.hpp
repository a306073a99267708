// The projector: tails the event log and applies each event to the store, in order, storing its
// position in the same RocksDB batch as the state it derived (a crash never double-applies or
// skips). Runs one thread per partition.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/metrics.hpp"
#include "eventlog/event_log.hpp"
#include "projector/watermark.hpp"
#include "schemas/events.hpp"
#include "store/database.hpp"

namespace cairn::projector {

class State;

class Projector {
 public:
  // `apply_delay`, when given, observes for every event applied live how long after its time
  // (when ingest wrote it) it was applied, in seconds: the produce -> applied latency across
  // processes (clocks in sync assumed; event times have millisecond precision).
  Projector(eventlog::EventLog& log, store::Database& store, AppliedWatermark& watermark,
            Metrics::Histogram* apply_delay = nullptr);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  void start();
  void stop();

  // Applies everything up to the current end of the log on the calling thread (used at start).
  // Returns the number of events applied.
  uint64_t catch_up();
  // Builds an empty projection from the whole log in one pass in memory (`cairn replay`): the
  // same projection function, without per-event RocksDB work. What it holds is bounded: past
  // `memory_bytes` it is written to the store as a sorted run, and reads of keys it no longer
  // holds go to the store.
  static constexpr size_t kRebuildMemoryBytes = size_t{384} << 20;
  uint64_t rebuild(size_t memory_bytes = kRebuildMemoryBytes);

  // Events this version cannot decode (skipped), and results applied without their body (it
  // did not parse: see apply_event). Both stay in the log; metrics and a log line tell operators.
  uint64_t skipped_events() const { return skipped_; }
  uint64_t uninterpretable_results() const { return uninterpretable_; }

 private:
  // Reads and applies one batch of `partition`; returns how many records it consumed.
  size_t apply_batch(PartitionId partition, std::chrono::milliseconds wait);
  std::optional<events::Event> decode_or_skip(const eventlog::LogRecord& record);
  void apply(const events::Event& event, LogPosition position, State& state);
  void run(PartitionId partition);

  eventlog::EventLog& log_;
  store::Database& store_;
  AppliedWatermark& watermark_;
  Metrics::Histogram* apply_delay_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> uninterpretable_{0};
  std::vector<std::thread> threads_;
};

}  // namespace cairn::projector
