// Builds a libplist tree from a reader's stream of values while enforcing PlistLimits. Both
// readers (xml_reader.cpp, binary_reader.cpp) emit through this one class, so every limit is
// checked by the same code that builds the tree: nothing can be counted one way and parsed another.
#pragma once

#include <plist/plist.h>

#include <string>
#include <vector>

#include "plist/plist.hpp"

namespace cairn::plist_reader {

// Owns a node until it is attached to the tree (or freed with it on error).
using NodePtr = std::unique_ptr<void, void (*)(plist_t)>;
inline NodePtr own(plist_t node) {
  return NodePtr(node, plist_free);
}

class TreeBuilder {
 public:
  explicit TreeBuilder(const PlistLimits& limits) : limits_(limits) {}

  // The next value where the stream stands: the root, an array element, or a dictionary's value
  // for the key given last. `payload_bytes` is what the value holds (string, data); containers
  // are opened here and closed with close().
  void value(NodePtr node, size_t payload_bytes = 0);
  void open_dict() { value(own(plist_new_dict())); }
  void open_array() { value(own(plist_new_array())); }
  void close();
  // A dictionary key; the value must follow.
  void key(std::string name);

  bool in_dict() const { return !open_.empty() && open_.back().dict; }
  size_t depth() const { return open_.size(); }
  // The finished tree; throws BadRequest if it is incomplete.
  Plist finish();

  // Every refusal names what was wrong; readers use it too.
  [[noreturn]] static void fail(const std::string& why);

 private:
  struct Open {
    plist_t node;
    bool dict;
    bool has_key = false;
    std::string key;
  };
  void count(size_t payload_bytes);

  const PlistLimits& limits_;
  NodePtr root_{nullptr, plist_free};
  std::vector<Open> open_;
  size_t objects_ = 0;
  size_t payload_bytes_ = 0;
  size_t key_comparisons_ = 0;
};

}  // namespace cairn::plist_reader
