#include "audit/ledger.hpp"

#include <cstdio>

#include "audit/chain.hpp"
#include "common/encoding.hpp"
#include "common/logging.hpp"

namespace cairn::audit {
namespace {

using store::decode_record;

// A checkpoint covers at most this many records: while a ledger catches up with a long log, its
// Merkle trees (and an auditor's proofs) stay small.
constexpr int64_t kMaxCheckpointRecords = 100000;

std::string hex8(int32_t n) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(n));
  return hex;
}
std::string hex16(int64_t n) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(n));
  return hex;
}

std::string head_key(PartitionId p) {
  return "H/" + hex8(p.value());
}
std::string entry_prefix(PartitionId p) {
  return "L/" + hex8(p.value()) + "/";
}
std::string entry_key(PartitionId p, int64_t offset) {
  return entry_prefix(p) + hex16(offset);
}
std::string position_suffix(LogPosition at) {
  return hex8(at.partition.value()) + "/" + hex16(at.offset.value());
}
std::string timeline_prefix(std::string_view device) {
  return "T/" + std::string(device) + "/";
}
std::string checkpoint_prefix(PartitionId p) {
  return "C/" + hex8(p.value()) + "/";
}

// "<partition 8 hex>/<offset 16 hex>" back into a position.
std::optional<LogPosition> parse_position(std::string_view s) {
  if (s.size() != 25 || s[8] != '/') return std::nullopt;
  const auto partition = hex_decode(s.substr(0, 8));
  const auto offset = hex_decode(s.substr(9));
  if (!partition || !offset) return std::nullopt;
  int64_t p = 0, o = 0;
  for (unsigned char c : *partition) p = p * 256 + c;
  for (unsigned char c : *offset) o = o * 256 + c;
  if (o < 0) return std::nullopt;
  return LogPosition{PartitionId(static_cast<int32_t>(p)), Offset(o)};
}

}  // namespace

namespace {
// A checkpoint as the ledger keeps it: its event, as the log held it.
events::AuditCheckpointed checkpoint_of(std::string_view value) {
  return std::get<events::AuditCheckpointed>(events::decode(value).payload);
}
}  // namespace

std::optional<Entry> LedgerReader::entry(PartitionId partition, int64_t offset) const {
  const auto v = store_.get(entry_key(partition, offset));
  return v ? std::optional(decode_record<Entry>(*v)) : std::nullopt;
}

std::optional<Head> LedgerReader::head(PartitionId partition) const {
  const auto v = store_.get(head_key(partition));
  return v ? std::optional(decode_record<Head>(*v)) : std::nullopt;
}

std::vector<events::AuditCheckpointed> LedgerReader::checkpoints(PartitionId partition) const {
  std::vector<events::AuditCheckpointed> out;
  store_.scan(checkpoint_prefix(partition), {}, [&](std::string_view, std::string_view v) {
    out.push_back(checkpoint_of(v));
    return true;
  });
  return out;
}

std::optional<events::AuditCheckpointed> LedgerReader::checkpoint_covering(PartitionId partition,
                                                                           int64_t offset) const {
  std::optional<events::AuditCheckpointed> found;
  // By next offset: the first past `offset` that starts at or before it.
  store_.scan(checkpoint_prefix(partition), checkpoint_prefix(partition) + hex16(offset + 1),
              [&](std::string_view, std::string_view v) {
                auto c = checkpoint_of(v);
                if (c.first_offset > offset) return true;
                found = std::move(c);
                return false;
              });
  return found;
}

std::vector<std::string> LedgerReader::digests(PartitionId partition, int64_t first,
                                               int64_t next) const {
  std::vector<std::string> out;
  if (next <= first) return out;
  out.reserve(static_cast<size_t>(next - first));
  const auto prefix = entry_prefix(partition);
  store_.scan(prefix, entry_key(partition, first), [&](std::string_view key, std::string_view v) {
    if (key >= entry_key(partition, next)) return false;
    out.push_back(decode_record<Entry>(v).digest);
    return true;
  });
  return out;
}

LedgerReader::Timeline LedgerReader::timeline(const std::string& device, const std::string& since,
                                              const std::string& until, const std::string& type,
                                              const std::string& after, size_t limit,
                                              size_t budget) const {
  Timeline page;
  const auto prefix = timeline_prefix(device);
  const std::string start = after.empty() ? std::string() : prefix + after + '\0';
  size_t examined = 0;
  std::string last;
  store_.scan(prefix, start, [&](std::string_view key, std::string_view) {
    last = std::string(key.substr(prefix.size()));
    ++examined;
    const auto at = parse_position(last);
    if (at) {
      auto e = entry(at->partition, at->offset.value());
      if (e && (since.empty() || e->time >= since) && (until.empty() || e->time < until) &&
          (type.empty() || e->type == type))
        page.events.emplace_back(*at, std::move(*e));
    }
    return page.events.size() < limit && examined < budget;
  });
  if (page.events.size() == limit || examined == budget) page.cursor = last;
  return page;
}

Ledger::Ledger(eventlog::EventLog& log, store::Database& store, const Signer& signer,
               LedgerOptions options)
    : log_(log), store_(store), signer_(signer), options_(std::move(options)), reader_(store) {}

Ledger::~Ledger() {
  stop();
}

void Ledger::start() {
  thread_ = std::thread([this] { run(); });
}

void Ledger::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Ledger::run() {
  auto next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_every;
  while (!stopping_) {
    try {
      consume(std::chrono::milliseconds(100));
      if (options_.checkpoint_every.count() > 0 &&
          std::chrono::steady_clock::now() >= next_checkpoint) {
        checkpoint();
        next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_every;
      }
    } catch (const std::exception& e) {
      // Nothing is lost: the position and the ledger did not move, the checkpoint comes later.
      logging::error("audit ledger round failed; retrying", {{"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

size_t Ledger::consume(std::chrono::milliseconds wait) {
  const auto position = [this](PartitionId p) { return store_.next_offset(p); };
  return eventlog::read_each_partition(
      log_, position, 2048, wait,
      [&](PartitionId partition, const std::vector<eventlog::LogRecord>& records) {
        store::Batch batch(store_);
        Head head = reader_.head(partition).value_or(Head{genesis(), -1});
        for (const auto& record : records) {
          Entry entry;
          entry.digest = record_digest(record.key, record.type, record.value);
          head.chain = entry.chain = chain_link(head.chain, entry.digest);
          entry.type = record.type;
          try {
            const auto e = events::decode(record.value, events::Bodies::kSkip);
            entry.id = e.id;
            entry.device = e.device;
            entry.time = e.time;
            if (const auto* c = std::get_if<events::AuditCheckpointed>(&e.payload))
              batch.put(checkpoint_prefix(PartitionId(c->partition)) + hex16(c->next_offset),
                        record.value);
          } catch (const std::runtime_error&) {
            // Chained all the same (its bytes are what count); it has no place in a timeline.
          }
          if (record.type != events::AuditCheckpointed::kType)
            head.last_event = record.position.offset.value();
          if (!entry.device.empty())
            batch.put(timeline_prefix(entry.device) + position_suffix(record.position), "");
          batch.save(entry_key(partition, record.position.offset.value()), entry);
        }
        batch.save(head_key(partition), head);
        batch.set_next_offset(partition, Offset(records.back().position.offset.value() + 1));
        store_.write(batch);
      });
}

size_t Ledger::checkpoint() {
  size_t appended = 0;
  for (int32_t p = 0; p < log_.partition_count(); ++p) {
    const PartitionId partition(p);
    const auto head = reader_.head(partition);
    if (!head) continue;
    const int64_t read_to = store_.next_offset(partition).value();
    int64_t first = signed_through_[p];
    const auto known = reader_.checkpoints(partition);
    if (!known.empty()) first = std::max(first, known.back().next_offset);
    // Nothing but checkpoints since the last one: an idle log is not signed again and again.
    if (head->last_event < first) continue;
    std::vector<eventlog::RecordToAppend> records;
    while (first < read_to) {
      const int64_t next = std::min(read_to, first + kMaxCheckpointRecords);
      const auto digests = reader_.digests(partition, first, next);
      const auto last = reader_.entry(partition, next - 1);
      if (!last || digests.size() != static_cast<size_t>(next - first))
        throw std::runtime_error("the audit ledger misses entries of partition " +
                                 std::to_string(p) + " from offset " + std::to_string(first));
      events::AuditCheckpointed c;
      c.partition = p;
      c.first_offset = first;
      c.next_offset = next;
      c.chain = hex_encode(last->chain);
      c.merkle_root = hex_encode(merkle_root(digests));
      signer_.sign(c);
      records.push_back(events::to_record(events::make_event("", options_.node, "audit", c)));
      first = next;
    }
    appended += records.size();
    log_.append(std::move(records));
    signed_through_[p] = read_to;
  }
  return appended;
}

}  // namespace cairn::audit
