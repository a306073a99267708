#include "audit/export.hpp"

#include <optional>

#include "audit/chain.hpp"
#include "common/encoding.hpp"
#include "common/json_writer.hpp"

namespace cairn::audit {
namespace {

class Exporter {
 public:
  Exporter(std::ostream& out, eventlog::EventLog& log, const LedgerReader& ledger)
      : out_(out), log_(log), ledger_(ledger) {}

  void event(LogPosition at) {
    const auto records = log_.read(at.partition, at.offset, 1, std::chrono::milliseconds(0));
    if (records.empty() || records.front().position.offset != at.offset) return;
    const auto& r = records.front();
    const auto checkpoint = ledger_.checkpoint_covering(at.partition, at.offset.value());
    JsonWriter j;
    j.begin_object()
        .field("partition", at.partition.value())
        .field("offset", at.offset.value())
        .field("key", r.key)
        .field("type", r.type)
        .field("value", r.value);
    if (checkpoint) {
      const auto& digests = digests_of(*checkpoint);
      j.field("checkpoint_first_offset", checkpoint->first_offset)
          .field("checkpoint_next_offset", checkpoint->next_offset)
          .key("path")
          .begin_array();
      for (const auto& step :
           merkle_path(digests, static_cast<size_t>(at.offset.value() - checkpoint->first_offset)))
        j.value(hex_encode(step));
      j.end_array();
    }
    j.end_object();
    out_ << j.str() << '\n';
    ++events_;
  }
  size_t events() const { return events_; }

 private:
  // The digests of the checkpoint's range, the checkpoint written once before its first use.
  const std::vector<std::string>& digests_of(const events::AuditCheckpointed& c) {
    if (!cached_ || cached_->partition != c.partition || cached_->next_offset != c.next_offset ||
        cached_->first_offset != c.first_offset) {
      cached_ = c;
      digests_ = ledger_.digests(PartitionId(c.partition), c.first_offset, c.next_offset);
      JsonWriter j;
      j.begin_object()
          .key("checkpoint")
          .begin_object()
          .field("partition", c.partition)
          .field("first_offset", c.first_offset)
          .field("next_offset", c.next_offset)
          .field("chain", c.chain)
          .field("merkle_root", c.merkle_root)
          .field("key_id", c.key_id)
          .field("signature", c.signature)
          .end_object()
          .end_object();
      out_ << j.str() << '\n';
    }
    return digests_;
  }

  std::ostream& out_;
  eventlog::EventLog& log_;
  const LedgerReader& ledger_;
  std::optional<events::AuditCheckpointed> cached_;
  std::vector<std::string> digests_;
  size_t events_ = 0;
};

}  // namespace

size_t write_export(std::ostream& out, eventlog::EventLog& log, const LedgerReader& ledger,
                    const ExportFilter& filter) {
  Exporter exporter(out, log, ledger);
  if (!filter.device.empty()) {
    std::string after;
    do {
      const auto page = ledger.timeline(filter.device, filter.since, filter.until, filter.type,
                                        after, 1000, 100000);
      for (const auto& [at, entry] : page.events) exporter.event(at);
      after = page.cursor;
    } while (!after.empty());
    return exporter.events();
  }
  for (int32_t p = 0; p < log.partition_count(); ++p) {
    const int64_t end = log.end_offset(PartitionId(p)).value();
    for (int64_t o = 0; o < end; ++o) {
      const auto e = ledger.entry(PartitionId(p), o);
      if (!e) break;  // past what the ledger has read
      if ((!filter.since.empty() && e->time < filter.since) ||
          (!filter.until.empty() && e->time >= filter.until) ||
          (!filter.type.empty() && e->type != filter.type))
        continue;
      exporter.event({PartitionId(p), Offset(o)});
    }
  }
  return exporter.events();
}

}  // namespace cairn::audit
