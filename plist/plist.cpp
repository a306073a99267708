#include "plist/plist.hpp"

#include <cstdlib>

#include "common/errors.hpp"
#include "plist/readers.hpp"

namespace cairn {
namespace {

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using MallocString = std::unique_ptr<char, FreeDeleter>;

}  // namespace

Plist Plist::parse(std::string_view body, const PlistLimits& limits) {
  if (body.empty()) throw BadRequest("empty body: expected a plist");
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (!body.starts_with("bplist00") && !body.starts_with("\xEF\xBB\xBF") &&
      (first == std::string_view::npos || body[first] != '<'))
    throw BadRequest("body is not a plist (neither XML nor binary)");
  Plist result = body.starts_with("bplist00") ? plist_reader::read_binary(body, limits)
                                              : plist_reader::read_xml(body, limits);
  if (plist_get_node_type(result.root()) != PLIST_DICT)
    throw BadRequest("plist root must be a dictionary");
  return result;
}

plist_t Plist::item(const char* key, plist_type expected, const char* type_name) const {
  plist_t node = plist_dict_get_item(root(), key);
  if (node && plist_get_node_type(node) != expected)
    throw BadRequest(std::string(key) + " must be a " + type_name);
  return node;
}

bool Plist::has(const char* key) const {
  return plist_dict_get_item(root(), key) != nullptr;
}

std::optional<std::string> Plist::string(const char* key) const {
  plist_t node = item(key, PLIST_STRING, "string");
  if (!node) return std::nullopt;
  char* raw = nullptr;
  plist_get_string_val(node, &raw);
  MallocString owned(raw);
  return std::string(raw ? raw : "");
}

std::optional<std::string> Plist::data(const char* key) const {
  plist_t node = item(key, PLIST_DATA, "data");
  if (!node) return std::nullopt;
  char* raw = nullptr;
  uint64_t length = 0;
  plist_get_data_val(node, &raw, &length);
  MallocString owned(raw);
  return std::string(raw ? raw : "", raw ? length : 0);
}

std::optional<bool> Plist::boolean(const char* key) const {
  plist_t node = item(key, PLIST_BOOLEAN, "boolean");
  if (!node) return std::nullopt;
  uint8_t v = 0;
  plist_get_bool_val(node, &v);
  return v != 0;
}

std::optional<int64_t> Plist::integer(const char* key) const {
  plist_t node = item(key, PLIST_UINT, "integer");
  if (!node) return std::nullopt;
  uint64_t v = 0;
  plist_get_uint_val(node, &v);
  return static_cast<int64_t>(v);
}

std::optional<Plist> Plist::dict(const char* key) const {
  plist_t node = item(key, PLIST_DICT, "dictionary");
  if (!node) return std::nullopt;
  return Plist(plist_copy(node));
}

std::optional<Plist> Plist::array(const char* key) const {
  plist_t node = item(key, PLIST_ARRAY, "array");
  if (!node) return std::nullopt;
  return Plist(plist_copy(node));
}

size_t Plist::size() const {
  return plist_get_node_type(root()) == PLIST_ARRAY ? plist_array_get_size(root()) : 0;
}

Plist Plist::at(size_t index) const {
  plist_t node =
      index < size() ? plist_array_get_item(root(), static_cast<uint32_t>(index)) : nullptr;
  if (!node || plist_get_node_type(node) != PLIST_DICT)
    throw BadRequest("array item " + std::to_string(index) + " must be a dictionary");
  return Plist(plist_copy(node));
}

void Plist::append(Plist value) {
  plist_array_append_item(root(), static_cast<plist_t>(value.node_.release()));
}

void Plist::set_string(const char* key, std::string_view value) {
  plist_dict_set_item(root(), key, plist_new_string(std::string(value).c_str()));
}

void Plist::set_data(const char* key, std::string_view bytes) {
  plist_dict_set_item(root(), key, plist_new_data(bytes.data(), bytes.size()));
}

void Plist::set_integer(const char* key, int64_t value) {
  plist_dict_set_item(root(), key, plist_new_uint(static_cast<uint64_t>(value)));
}

void Plist::set_bool(const char* key, bool value) {
  plist_dict_set_item(root(), key, plist_new_bool(value ? 1 : 0));
}

void Plist::set(const char* key, Plist value) {
  plist_dict_set_item(root(), key, static_cast<plist_t>(value.node_.release()));
}

void Plist::remove(const char* key) {
  if (has(key)) plist_dict_remove_item(root(), key);
}

// libplist's writers hand back a buffer the matching free function releases.
std::string Plist::written(void (*write)(plist_t, char**, uint32_t*), void (*release)(char*)) const {
  char* out = nullptr;
  uint32_t length = 0;
  write(root(), &out, &length);
  std::unique_ptr<char, void (*)(char*)> owned(out, release);
  return std::string(out ? out : "", length);
}

std::string Plist::to_xml() const {
  return written(plist_to_xml, plist_to_xml_free);
}

std::string Plist::to_binary() const {
  return written(plist_to_bin, plist_to_bin_free);
}

}  // namespace cairn
