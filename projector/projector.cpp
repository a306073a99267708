#include "projector/projector.hpp"

#include "common/logging.hpp"
#include "projector/apply.hpp"
#include "projector/keys.hpp"
#include "schemas/events.hpp"

namespace cairn::projector {
namespace {
constexpr size_t kBatchRecords = 2048;
}

Projector::Projector(eventlog::EventLog& log, Store& store, AppliedWatermark& watermark)
    : log_(log), store_(store), watermark_(watermark) {
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

size_t Projector::apply_batch(PartitionId partition, std::chrono::milliseconds wait) {
  const Offset from = watermark_.next(partition);
  auto records = log_.read(partition, from, kBatchRecords, wait);
  if (records.empty()) return 0;
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  for (const auto& record : records) {
    std::optional<events::Event> event;
    try {
      event = events::decode(record.value);
    } catch (const std::runtime_error& e) {
      // An event this version cannot read. Skipping is deterministic (a replay skips it too);
      // stopping would halt every device. It stays in the log for a newer projector.
      ++skipped_;
      logging::error("projector skipped an unreadable event",
                     {{"offset", std::to_string(record.position.offset.value())},
                      {"type", record.type},
                      {"error", e.what()}});
      continue;
    }
    apply_event(*event, record.position, store_, batch);
  }
  const Offset next(records.back().position.offset.value() + 1);
  batch.Put(keys::position(partition.value()), std::to_string(next.value()));
  store_.write(batch);
  watermark_.advance(partition, next);
  return records.size();
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
