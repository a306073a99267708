#include "plist/tree_builder.hpp"

#include "common/errors.hpp"

namespace cairn::plist_reader {

void TreeBuilder::fail(const std::string& why) {
  throw BadRequest("malformed plist: " + why);
}

void TreeBuilder::count(size_t payload_bytes) {
  if (++objects_ > limits_.max_objects)
    throw BadRequest("plist has more than " + std::to_string(limits_.max_objects) + " objects");
  if (payload_bytes > limits_.max_leaf_bytes)
    throw BadRequest("plist value longer than " + std::to_string(limits_.max_leaf_bytes) +
                     " bytes");
  payload_bytes_ += payload_bytes;
  if (payload_bytes_ > limits_.max_payload_bytes)
    throw BadRequest("plist values add up to more than " +
                     std::to_string(limits_.max_payload_bytes) + " bytes");
}

void TreeBuilder::value(NodePtr node, size_t payload_bytes) {
  count(payload_bytes);
  const bool container = plist_get_node_type(node.get()) == PLIST_ARRAY ||
                         plist_get_node_type(node.get()) == PLIST_DICT;
  if (container && static_cast<int>(open_.size()) >= limits_.max_depth)
    throw BadRequest("plist nests deeper than " + std::to_string(limits_.max_depth));
  plist_t raw = node.get();
  if (open_.empty()) {
    if (root_) fail("more than one root value");
    root_ = std::move(node);
  } else if (Open& parent = open_.back(); parent.dict) {
    if (!parent.has_key) fail("a dictionary value without a key");
    plist_dict_set_item(parent.node, parent.key.c_str(), node.release());
    parent.has_key = false;
  } else {
    plist_array_append_item(parent.node, node.release());
  }
  if (container) open_.push_back({raw, plist_get_node_type(raw) == PLIST_DICT, false, {}});
}

void TreeBuilder::key(std::string name) {
  if (!in_dict()) fail("a key outside a dictionary");
  Open& dict = open_.back();
  if (dict.has_key) fail("two keys in a row");
  if (name.find('\0') != std::string::npos) fail("a key holds a NUL character");
  count(name.size());
  // libplist finds a key by comparing it with every key already there: bound that work, so that
  // thousands of keys sharing a long prefix cost a refusal, not seconds of CPU.
  key_comparisons_ += plist_dict_get_size(dict.node) * (1 + name.size() / 64);
  if (key_comparisons_ > limits_.max_key_comparisons)
    throw BadRequest("plist dictionaries have too many keys to compare");
  if (plist_dict_get_item(dict.node, name.c_str())) fail("duplicate key " + name.substr(0, 64));
  dict.key = std::move(name);
  dict.has_key = true;
}

void TreeBuilder::close() {
  if (open_.empty()) fail("a closing tag without an opening one");
  if (open_.back().has_key) fail("a key without a value");
  open_.pop_back();
}

Plist TreeBuilder::finish() {
  if (!root_) fail("no value");
  if (!open_.empty()) fail("unterminated container");
  return Plist::adopt(static_cast<plist_t>(root_.release()));
}

}  // namespace cairn::plist_reader
