#include "ingest/event_writer.hpp"

#include <map>

#include "common/errors.hpp"

namespace cairn::ingest {

EventWriter::EventWriter(eventlog::EventLog& log, const projector::AppliedWatermark& watermark,
                         std::string node, std::chrono::milliseconds apply_timeout,
                         std::chrono::seconds refusal_record_interval)
    : log_(log),
      watermark_(watermark),
      node_(std::move(node)),
      apply_timeout_(apply_timeout),
      // 10,000 addresses tracked at most; beyond them, addresses share one entry.
      refusals_(refusal_record_interval, 10'000) {}

events::Event EventWriter::make(std::string device, std::string actor,
                                events::Payload payload) const {
  return events::make_event(std::move(device), node_, std::move(actor), std::move(payload));
}

std::vector<LogPosition> EventWriter::append(const std::vector<events::Event>& batch) {
  std::vector<eventlog::RecordToAppend> records;
  records.reserve(batch.size());
  for (const auto& e : batch) records.push_back(events::to_record(e));
  return log_.append(std::move(records));
}

void EventWriter::wait_applied(const std::map<PartitionId, Offset>& last_offsets) const {
  const auto deadline = std::chrono::steady_clock::now() + apply_timeout_;
  for (const auto& [partition, offset] : last_offsets)
    if (!watermark_.wait_applied({partition, offset}, deadline))
      throw Unavailable("projection did not apply the log in time");
}

// Waiting for the highest offset of each partition covers all the others.
std::map<PartitionId, Offset> EventWriter::highest(const std::vector<LogPosition>& positions) {
  std::map<PartitionId, Offset> out;
  for (const auto& p : positions) {
    auto& h = out[p.partition];
    if (p.offset > h) h = p.offset;
  }
  return out;
}

void EventWriter::append_and_wait_applied(const std::vector<events::Event>& batch) {
  wait_applied(highest(append(batch)));
}

void EventWriter::wait_applied(const std::vector<LogPosition>& positions) const {
  wait_applied(highest(positions));
}

void EventWriter::wait_caught_up() const {
  std::map<PartitionId, Offset> last;
  for (int32_t p = 0; p < log_.partition_count(); ++p) {
    const Offset end = log_.end_offset(PartitionId(p));
    if (end.value() > 0) last[PartitionId(p)] = Offset(end.value() - 1);
  }
  wait_applied(last);
}

}  // namespace cairn::ingest
