// Read access to a key-value store, without RocksDB in sight: what the queries over a store need,
// and the seam where tests make reads fail (a failing store must be a 5xx, never a 401).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::store {

class Reader {
 public:
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;
  virtual ~Reader() = default;
  virtual std::optional<std::string> get(std::string_view key) const = 0;
  // Calls `visit(key, value)` for keys with `prefix`, in order, starting at `start` (inclusive,
  // or the prefix when empty) until it returns false.
  virtual void scan(std::string_view prefix, std::string_view start,
                    const Visitor& visit) const = 0;
};

}  // namespace cairn::store
