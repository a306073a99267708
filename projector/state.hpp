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

// The whole projection in memory, for a rebuild into an empty store: no RocksDB work per event,
// one sorted write at the end. Holds every live key and value (about 1 KiB per device).
class MemoryState final : public State {
 public:
  std::optional<std::string> get(const std::string& key) override {
    auto it = map_.find(key);
    return it == map_.end() ? std::nullopt : std::optional(it->second);
  }
  void put(std::string key, std::string value) override {
    map_.insert_or_assign(std::move(key), std::move(value));
  }
  void erase(const std::string& key) override { map_.erase(key); }
  void scan(const std::string& prefix, const std::string& start, const Visitor& visit) override {
    for (auto it = map_.lower_bound(start.empty() ? prefix : start);
         it != map_.end() && std::string_view(it->first).starts_with(prefix); ++it)
      if (!visit(it->first, it->second)) break;
  }
  using Map = std::map<std::string, std::string, std::less<>>;
  const Map& contents() const { return map_; }

 private:
  Map map_;
};

}  // namespace cairn::projector
