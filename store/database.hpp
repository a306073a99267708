// A consumer's state derived from the log, in a RocksDB database of its own: the projection
// (projector/keys.hpp) and the dispatcher's push state (dispatcher/push_state.hpp) each have one,
// with their own key layout. The store keeps two things for every consumer, under keys no layout
// may use: the layout version (`v/layout`), and per partition the next log offset to consume
// (`p/<partition>`), written in the same batch as the state derived from the records before it.
// RocksDB errors become Unavailable (a 5xx, never a 401). Only store/*.cpp sees RocksDB.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/strong_types.hpp"
#include "store/reader.hpp"
#include "store/record_codec.hpp"

namespace rocksdb {
class DB;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace cairn::store {

class Batch;

class Database : public Reader {
 public:
  enum class Access {
    kReadWrite,  // the consumer's own: opens or creates it
    kReadOnly,   // a tool beside a running node (`cairn audit`): reads what is there, writes fail
  };
  // Opens (or, read-write, creates) the database at `path`. Throws if it holds data of another
  // `layout`: records are private to their consumer and change between versions, so it is
  // rebuilt from the log.
  Database(const std::string& path, std::string_view layout, Access access = Access::kReadWrite);
  ~Database() override;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  std::optional<std::string> get(std::string_view key) const override;
  void scan(std::string_view prefix, std::string_view start, const Visitor& visit) const override;
  // Writes the batch atomically (unsynced: the log is the durable record, and the position in
  // the same batch goes back with the state after a crash).
  void write(Batch& batch);
  // A state rebuilt from the log, loaded in sorted runs, each written as one SST file and
  // ingested (no memtable, WAL or compaction): values, and erasures (nullopt) of keys an earlier
  // run holds. A later run wins.
  using Run = std::map<std::string, std::optional<std::string>, std::less<>>;
  void ingest_run(const Run& run);
  // The last run, then the positions, then a flush: the rebuilt state is complete.
  void bulk_load(const Run& last_run, const std::map<int32_t, int64_t>& next_offsets);

  // SHA-256 over every key and value in order (one consistent snapshot): equal digests mean equal
  // states. `positions` are the next offsets in that same snapshot.
  struct Digest {
    std::string sha256;
    std::map<int32_t, int64_t> positions;
  };
  Digest digest() const;
  Offset next_offset(PartitionId partition) const;

 private:
  friend class Batch;
  void check_layout(std::string_view layout, Access access);
  std::unique_ptr<rocksdb::DB> db_;
};

// One atomic write, being built: reads see the database with the batch's own writes on top, so
// an event sees the effects of earlier ones in the batch.
class Batch final : public Reader {
 public:
  explicit Batch(const Database& db);
  ~Batch() override;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  std::optional<std::string> get(std::string_view key) const override;
  void scan(std::string_view prefix, std::string_view start, const Visitor& visit) const override;
  bool has(std::string_view key) const { return get(key).has_value(); }
  void put(std::string_view key, std::string_view value);
  void erase(std::string_view key);
  // Records that the log has been consumed up to (excluding) `next` in `partition`.
  void set_next_offset(PartitionId partition, Offset next);

  template <class Record>
  std::optional<Record> load(std::string_view key) const {
    auto bytes = get(key);
    return bytes ? std::optional(decode_record<Record>(*bytes)) : std::nullopt;
  }
  template <class Record>
  void save(std::string_view key, const Record& record) {
    put(key, encode_record(record));
  }

 private:
  friend class Database;
  const Database& db_;
  std::unique_ptr<rocksdb::WriteBatchWithIndex> batch_;
};

}  // namespace cairn::store
