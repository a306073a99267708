// The audit ledger (docs/audit.md): a consumer of the log that chains every record's digest per
// partition (audit/chain.hpp) and indexes each device's events, in a RocksDB of its own
// (<data>/audit) written in the same batch as its log position; and at intervals it appends a
// signed checkpoint of each partition (events::AuditCheckpointed, audit/checkpoint.hpp).
//
// The checkpoints are what an auditor trusts: they are signed. The ledger's entries are the
// witness that names what changed: `cairn audit verify` recomputes the chain from the log and
// checks it against every checkpoint, and compares each record with its entry, so a record edited,
// removed or moved after the ledger read it is named, not only its checkpoint's range.
//
// Keys:
//   H/<partition 8 hex>                          → Head: the chain after the last record read
//   L/<partition 8 hex>/<offset 16 hex>          → Entry: one per record
//   T/<device>/<partition 8 hex>/<offset 16 hex> → "" (the device's events, in log order)
//   C/<partition 8 hex>/<next offset 16 hex>     → an AuditCheckpointed event, as the log held it
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.hpp"
#include "eventlog/event_log.hpp"
#include "store/database.hpp"

namespace cairn::audit {

inline constexpr std::string_view kStoreLayout = "audit-1";

// What the ledger saw of one record.
struct Entry {
  std::string digest;                  // record_digest, raw
  std::string chain;                   // the chain after it, raw
  std::string id, type, device, time;  // from the event; empty when it could not be read

  template <class Archive>
  void serialize(Archive& a) {
    a(digest, chain, id, type, device, time);
  }
};

struct Head {
  std::string chain;
  int64_t last_event = -1;  // the last offset holding anything but a checkpoint

  template <class Archive>
  void serialize(Archive& a) {
    a(chain, last_event);
  }
};

// Reads a ledger store: the node's own, or one opened read-only by `cairn audit`.
class LedgerReader {
 public:
  explicit LedgerReader(const store::Reader& store) : store_(store) {}
  std::optional<Entry> entry(PartitionId partition, int64_t offset) const;
  std::optional<Head> head(PartitionId partition) const;
  // Every checkpoint of `partition` read so far, by next offset.
  std::vector<events::AuditCheckpointed> checkpoints(PartitionId partition) const;
  // The first checkpoint whose range holds `offset`, if any yet.
  std::optional<events::AuditCheckpointed> checkpoint_covering(PartitionId partition,
                                                               int64_t offset) const;
  // The record digests of [first, next) in `partition`; fewer when entries are missing.
  std::vector<std::string> digests(PartitionId partition, int64_t first, int64_t next) const;

  // A device's events in log order, filtered by time ([since, until), RFC 3339; empty: open) and
  // type (empty: all), starting after `after` (a cursor, empty for the first page): at most
  // `limit`, examining at most `budget` entries; `cursor` is where the next page starts, "" at
  // the end.
  struct Timeline {
    std::vector<std::pair<LogPosition, Entry>> events;
    std::string cursor;
  };
  Timeline timeline(const std::string& device, const std::string& since, const std::string& until,
                    const std::string& type, const std::string& after, size_t limit,
                    size_t budget) const;

 private:
  const store::Reader& store_;
};

struct LedgerOptions {
  std::string node = "audit";
  // How often checkpoints are appended (only when records other than checkpoints came since the
  // last one); zero: never.
  std::chrono::milliseconds checkpoint_every{10000};
};

class Ledger {
 public:
  Ledger(eventlog::EventLog& log, store::Database& store, const Signer& signer,
         LedgerOptions options);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  void start();
  void stop();

  // Reads what the log holds past the stored position (waiting up to `wait`) into the ledger.
  size_t consume(std::chrono::milliseconds wait);
  // Appends a checkpoint for each partition with records other than checkpoints since the last
  // checkpoint the ledger knows of. Returns how many it appended.
  size_t checkpoint();

  const LedgerReader& reader() const { return reader_; }

 private:
  void run();

  eventlog::EventLog& log_;
  store::Database& store_;
  const Signer& signer_;
  LedgerOptions options_;
  LedgerReader reader_;
  std::map<int32_t, int64_t> signed_through_;  // next offsets this ledger signed, not read yet
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace cairn::audit
