// The projection's RocksDB database. RocksDB errors become Unavailable (a 5xx, never a 401).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/strong_types.hpp"
#include "projector/keys.hpp"

namespace cairn::projector {

class Store {
 public:
  // Opens or creates the database at `path`. Throws if it holds data of another layout (records
  // are private to their consumer and change between versions: rebuild from the log instead).
  // The projection's layout is the default; other consumers of the log (the dispatcher) keep
  // their own state in a Store of their own layout.
  explicit Store(const std::string& path, std::string_view layout = keys::kLayoutVersion);

  std::optional<std::string> get(std::string_view key) const;
  // Calls `visit(key, value)` for keys with `prefix`, in order, starting at `start` (inclusive,
  // or the prefix when empty) until it returns false.
  void scan(std::string_view prefix, std::string_view start,
            const std::function<bool(std::string_view, std::string_view)>& visit) const;
  // Reads through a batch being built, so an event sees the effects of earlier ones in the batch.
  std::optional<std::string> get(rocksdb::WriteBatchWithIndex& batch, std::string_view key) const;
  void scan(rocksdb::WriteBatchWithIndex& batch, std::string_view prefix, std::string_view start,
            const std::function<bool(std::string_view, std::string_view)>& visit) const;
  void write(rocksdb::WriteBatchWithIndex& batch);
  // Writes a whole projection into an empty store without the WAL, then flushes it to disk.
  void bulk_load(const std::map<std::string, std::string, std::less<>>& contents);

  // SHA-256 over every key and value in order (one consistent snapshot): equal digests mean equal
  // projections. `positions` are the applied positions in that same snapshot.
  struct Digest {
    std::string sha256;
    std::map<int32_t, int64_t> positions;
  };
  Digest digest() const;
  Offset next_offset(PartitionId partition) const;

 private:
  void check_layout(std::string_view layout);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace cairn::projector
