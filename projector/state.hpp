// The key-value state the projection function reads and writes while applying events. Two
// implementations: a store batch for the live projector (reads see the store plus the batch),
// and an in-memory ordered map for rebuilding a projection from the log in one pass.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace cairn::projector {

class State {
 public:
  using Visitor = store::Reader::Visitor;
  virtual ~State() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  // By value: the in-memory state keeps them (moved in), the batch copies them.
  virtual void put(std::string key, std::string value) = 0;
  virtual void erase(const std::string& key) = 0;
  // Keys with `prefix` from `start` (inclusive; the prefix when empty), in order, until false.
  virtual void scan(const std::string& prefix, const std::string& start, const Visitor& visit) = 0;
};

// Writes go to a batch that the caller commits; reads see the store with the batch on top.
class BatchState final : public State {
 public:
  explicit BatchState(store::Batch& batch) : batch_(batch) {}
  std::optional<std::string> get(const std::string& key) override { return batch_.get(key); }
  void put(std::string key, std::string value) override { batch_.put(key, value); }
  void erase(const std::string& key) override { batch_.erase(key); }
  void scan(const std::string& prefix, const std::string& start, const Visitor& visit) override {
    batch_.scan(prefix, start, visit);
  }

 private:
  store::Batch& batch_;
};

// A projection being rebuilt, in memory: no RocksDB work per event. When it grows past what the
// rebuild may hold, its contents are spilled to the store as one sorted run (`take`), and from
// then on reads fall through to the store (`below`) for keys not held here, and an erasure is
// held as a tombstone (nullopt) so that it hides the key in the runs below.
class MemoryState final : public State {
 public:
  using Map = std::map<std::string, std::optional<std::string>, std::less<>>;

  std::optional<std::string> get(const std::string& key) override;
  void put(std::string key, std::string value) override;
  void erase(const std::string& key) override;
  void scan(const std::string& prefix, const std::string& start, const Visitor& visit) override;

  // What is held (keys, values and tombstones), and about how many bytes of memory it takes.
  const Map& contents() const { return map_; }
  size_t bytes() const { return bytes_; }
  // Hands over everything held; reads then see `below` (the store the run went to) alone.
  Map take(const store::Reader& below);

 private:
  Map map_;
  size_t bytes_ = 0;
  const store::Reader* below_ = nullptr;  // the spilled runs, once there are any
};

}  // namespace cairn::projector
