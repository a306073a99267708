// Property lists: Cairn's own bounded reader for untrusted bodies and an RAII owner for libplist
// trees.
//
// libplist's parsers recurse and have no limits: a deeply nested body, a binary plist whose object
// references expand into a huge tree, or thousands of colliding keys exhaust the stack, memory or
// CPU. A pre-check in front of them was tried and failed: any construct the check and libplist
// delimit differently hides nesting from the check. So Cairn parses every untrusted plist itself
// (plist/xml_reader.cpp, plist/binary_reader.cpp), without recursion, enforcing PlistLimits in the
// same pass that builds the tree; libplist only holds the nodes. Since the tree is never deeper
// than max_depth, libplist's recursive copy and free are safe on it.
#pragma once

#include <plist/plist.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cairn {

// Plist dates count seconds from 2001-01-01 (Apple's epoch): this many after the Unix epoch.
inline constexpr int64_t kPlistDateEpoch = 978307200;

// What one parse may build. A real device's largest answers (an InstalledApplicationList of
// thousands of apps, a full Restrictions dump) use a few percent of each.
struct PlistLimits {
  int max_depth = 64;                       // dict/array nesting
  size_t max_objects = 250'000;             // nodes, keys included, in the expanded tree
  size_t max_leaf_bytes = 4u << 20;         // one string, key or data value
  size_t max_payload_bytes = 16u << 20;     // all of them together, once expanded
  size_t max_key_comparisons = 16'000'000;  // libplist's linear key lookups while building
};

class Plist {
 public:
  // Parses an untrusted XML or binary plist whose root must be a dictionary; throws BadRequest
  // naming what was wrong, for any input (tests/fuzz/plist_fuzz.cpp).
  static Plist parse(std::string_view body, const PlistLimits& limits = {});
  static Plist adopt(plist_t node) { return Plist(node); }
  static Plist new_dict() { return Plist(plist_new_dict()); }
  static Plist new_array() { return Plist(plist_new_array()); }

  plist_t root() const { return node_.get(); }

  // Root-dictionary accessors. Absent → nullopt; present with another type → BadRequest naming it.
  std::optional<std::string> string(const char* key) const;
  std::optional<std::string> data(const char* key) const;  // raw bytes
  std::optional<bool> boolean(const char* key) const;
  std::optional<int64_t> integer(const char* key) const;
  std::optional<Plist> dict(const char* key) const;   // a copy
  std::optional<Plist> array(const char* key) const;  // a copy
  // Array roots.
  size_t size() const;
  Plist at(size_t index) const;  // a copy of a dictionary element; BadRequest for anything else
  void append(Plist value);
  bool has(const char* key) const;

  void set_string(const char* key, std::string_view value);
  void set_data(const char* key, std::string_view bytes);
  void set_integer(const char* key, int64_t value);
  void set_bool(const char* key, bool value);
  void set(const char* key, Plist value);  // a dictionary or array, moved in
  void remove(const char* key);

  std::string to_xml() const;
  std::string to_binary() const;

 private:
  struct Deleter {
    void operator()(void* p) const { plist_free(static_cast<plist_t>(p)); }
  };
  explicit Plist(plist_t node) : node_(node) {}
  plist_t item(const char* key, plist_type expected, const char* type_name) const;
  std::string written(void (*write)(plist_t, char**, uint32_t*), void (*release)(char*)) const;
  std::unique_ptr<void, Deleter> node_;
};

// Calls `visit(key, value)` for each entry of a dictionary node, in order.
template <class Visit>
void for_each_entry(plist_t dict, Visit visit) {
  plist_dict_iter raw = nullptr;
  plist_dict_new_iter(dict, &raw);
  const std::unique_ptr<void, void (*)(void*)> iter(raw, std::free);
  for (;;) {
    char* name = nullptr;
    plist_t value = nullptr;
    plist_dict_next_item(dict, iter.get(), &name, &value);
    const std::unique_ptr<char, void (*)(void*)> owned(name, std::free);
    if (!value) return;
    visit(std::string(name ? name : ""), value);
  }
}

}  // namespace cairn
