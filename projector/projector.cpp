#include "projector/projector.hpp"

#include <future>
#include <map>

#include "common/clock.hpp"
#include "common/logging.hpp"
#include "projector/apply.hpp"
#include "projector/state.hpp"
#include "schemas/events.hpp"

namespace cairn::projector {
namespace {
constexpr size_t kBatchRecords = 2048;
}

Projector::Projector(eventlog::EventLog& log, store::Database& store, AppliedWatermark& watermark,
                     Metrics::Histogram* apply_delay)
    : log_(log), store_(store), watermark_(watermark), apply_delay_(apply_delay) {
  for (int32_t p = 0; p < log_.partition_count(); ++p) {
    const PartitionId partition(p);
    const Offset next = store_.next_offset(partition);
    // A projection ahead of its log was built from records the log no longer has (or from
    // another log). Serving from it would acknowledge new events as already applied.
    if (next > log_.end_offset(partition))
      throw std::runtime_error("projection has applied offset " + std::to_string(next.value()) +
                               " of partition " + std::to_string(p) + " but the log ends at " +
                               std::to_string(log_.end_offset(partition).value()) +
                               "; rebuild it: move the projection directory away and restart");
    watermark_.advance(partition, next);
  }
}

Projector::~Projector() {
  stop();
}

void Projector::start() {
  for (int32_t p = 0; p < log_.partition_count(); ++p)
    threads_.emplace_back([this, p] { run(PartitionId(p)); });
}

void Projector::stop() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::optional<events::Event> Projector::decode_or_skip(const eventlog::LogRecord& record) {
  try {
    // Results and status reports keep their bodies: inventory and declaration status are read
    // from them (projector/inventory, projector/declarative_status).
    const bool read_body = record.type == events::CommandReported::kType ||
                           record.type == events::StatusReported::kType;
    return events::decode(record.value, read_body ? events::Bodies::kKeep : events::Bodies::kSkip);
  } catch (const std::runtime_error& e) {
    // An event this version cannot read. Skipping is deterministic (a replay skips it too);
    // stopping would halt every device. It stays in the log for a newer projector.
    ++skipped_;
    logging::error("projector skipped an unreadable event",
                   {{"offset", std::to_string(record.position.offset.value())},
                    {"type", record.type},
                    {"error", e.what()}});
    return std::nullopt;
  }
}

void Projector::apply(const events::Event& event, LogPosition position, State& state) {
  if (apply_event(event, position, state) == Applied::kFully) return;
  ++uninterpretable_;
  logging::warn("projector applied a result whose body it cannot read; inventory unchanged",
                {{"offset", std::to_string(position.offset.value())},
                 {"partition", std::to_string(position.partition.value())},
                 {"udid", event.device}});
}

size_t Projector::apply_batch(PartitionId partition, std::chrono::milliseconds wait) {
  const Offset from = watermark_.next(partition);
  auto records = log_.read(partition, from, kBatchRecords, wait);
  if (records.empty()) return 0;
  store::Batch batch(store_);
  BatchState state(batch);
  std::vector<SystemTime> written_at;
  for (const auto& record : records) {
    auto event = decode_or_skip(record);
    if (!event) continue;
    apply(*event, record.position, state);
    if (apply_delay_)
      if (auto t = parse_rfc3339(event->time)) written_at.push_back(*t);
  }
  const Offset next(records.back().position.offset.value() + 1);
  batch.set_next_offset(partition, next);
  store_.write(batch);
  watermark_.advance(partition, next);
  const auto applied_at = std::chrono::system_clock::now();
  for (const auto t : written_at)
    apply_delay_->observe(std::chrono::duration<double>(applied_at - t).count());
  return records.size();
}

uint64_t Projector::rebuild(size_t memory_bytes) {
  for (int32_t p = 0; p < log_.partition_count(); ++p)
    if (watermark_.next(PartitionId(p)).value() != 0)
      throw std::runtime_error("rebuild needs an empty projection");
  // Decoding is pure and costs about as much as applying: a second thread reads and decodes the
  // next chunk while this one applies the current chunk, in log order.
  struct Chunk {
    std::vector<eventlog::LogRecord> records;
    std::vector<std::optional<events::Event>> events;
  };
  auto read_chunk = [this](PartitionId partition, Offset from) {
    Chunk chunk;
    chunk.records = log_.read(partition, from, 16384, std::chrono::milliseconds(0));
    chunk.events.reserve(chunk.records.size());
    for (const auto& record : chunk.records) chunk.events.push_back(decode_or_skip(record));
    return chunk;
  };
  MemoryState state;
  std::map<int32_t, int64_t> next_offsets;
  uint64_t applied = 0;
  for (int32_t p = 0; p < log_.partition_count(); ++p) {
    const PartitionId partition(p);
    const Offset end = log_.end_offset(partition);
    auto pending = std::async(std::launch::async, read_chunk, partition, Offset(0));
    while (true) {
      Chunk chunk = pending.get();
      if (chunk.records.empty()) {
        if (end.value() == 0) break;
        throw std::runtime_error("the log ended before its end offset during rebuild");
      }
      const Offset next(chunk.records.back().position.offset.value() + 1);
      if (next < end) pending = std::async(std::launch::async, read_chunk, partition, next);
      for (size_t i = 0; i < chunk.records.size(); ++i) {
        if (chunk.events[i]) apply(*chunk.events[i], chunk.records[i].position, state);
        if (state.bytes() > memory_bytes) store_.ingest_run(state.take(store_));
      }
      applied += chunk.records.size();
      if (next >= end) break;
    }
    if (end.value() > 0) next_offsets[p] = end.value();
    watermark_.advance(partition, end);
  }
  store_.bulk_load(state.take(store_), next_offsets);
  return applied;
}

void Projector::run(PartitionId partition) {
  while (!stopping_) {
    try {
      apply_batch(partition, std::chrono::milliseconds(100));
    } catch (const std::exception& e) {
      // Store or log trouble: keep the position, retry. Devices waiting on the watermark get 503.
      logging::error("projector batch failed; retrying", {{"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

uint64_t Projector::catch_up() {
  uint64_t applied = 0;
  for (int32_t p = 0; p < log_.partition_count(); ++p) {
    const PartitionId partition(p);
    while (watermark_.next(partition) < log_.end_offset(partition))
      applied += apply_batch(partition, std::chrono::milliseconds(0));
  }
  return applied;
}

}  // namespace cairn::projector
