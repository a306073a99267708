// Property lists: bounded parsing of untrusted bodies and an RAII owner for libplist trees.
//
// libplist parses recursively, so a deeply nested body (or a binary plist whose object references
// expand into a huge tree) can exhaust the stack or memory and kill the process. Every untrusted
// body therefore passes check_plist_bounds, which walks it iteratively, before libplist sees it.
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

struct PlistLimits {
  int max_depth = 64;            // dict/array nesting
  size_t max_objects = 250'000;  // nodes in the expanded tree
};

// Throws BadRequest if `body` is neither an XML nor a binary plist within `limits`.
void check_plist_bounds(std::string_view body, const PlistLimits& limits);

class Plist {
 public:
  // Parses an untrusted XML or binary plist whose root must be a dictionary; throws BadRequest.
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

 private:
  struct Deleter {
    void operator()(void* p) const { plist_free(static_cast<plist_t>(p)); }
  };
  explicit Plist(plist_t node) : node_(node) {}
  plist_t item(const char* key, plist_type expected, const char* type_name) const;
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
