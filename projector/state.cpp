#include "projector/state.hpp"

namespace cairn::projector {
namespace {

// A map node's own cost beside its key and value: the node, two strings' headers, allocation.
constexpr size_t kEntryOverhead = 128;

size_t size_of(const std::optional<std::string>& value) {
  return value ? value->size() : 0;
}

}  // namespace

std::optional<std::string> MemoryState::get(const std::string& key) {
  if (auto it = map_.find(key); it != map_.end()) return it->second;
  return below_ ? below_->get(key) : std::nullopt;
}

void MemoryState::put(std::string key, std::string value) {
  auto [it, inserted] = map_.try_emplace(std::move(key));
  bytes_ += value.size();
  bytes_ = inserted ? bytes_ + it->first.size() + kEntryOverhead : bytes_ - size_of(it->second);
  it->second = std::move(value);
}

void MemoryState::erase(const std::string& key) {
  auto it = map_.find(key);
  if (!below_) {  // nothing below to hide: forget it
    if (it == map_.end()) return;
    bytes_ -= it->first.size() + kEntryOverhead + size_of(it->second);
    map_.erase(it);
    return;
  }
  if (it == map_.end()) {
    map_.emplace(key, std::nullopt);
    bytes_ += key.size() + kEntryOverhead;
  } else {
    bytes_ -= size_of(it->second);
    it->second.reset();
  }
}

void MemoryState::scan(const std::string& prefix, const std::string& start, const Visitor& visit) {
  const std::string& from = start.empty() ? prefix : start;
  auto it = map_.lower_bound(from);
  bool more = true;
  auto held = [&] { return it != map_.end() && std::string_view(it->first).starts_with(prefix); };
  // Visits what is held here before `limit` (everything left when there is none).
  auto visit_held_before = [&](std::optional<std::string_view> limit) {
    for (; more && held() && (!limit || it->first < *limit); ++it)
      if (it->second) more = visit(it->first, *it->second);
  };
  if (below_)
    below_->scan(prefix, from, [&](std::string_view key, std::string_view value) {
      visit_held_before(key);
      if (!more) return false;
      if (held() && it->first == key) {  // held here: it replaces (or erases) the run's
        const auto& mine = (it++)->second;
        if (mine) more = visit(key, *mine);
        return more;
      }
      more = visit(key, value);
      return more;
    });
  visit_held_before(std::nullopt);
}

MemoryState::Map MemoryState::take(const store::Reader& below) {
  below_ = &below;
  bytes_ = 0;
  return std::exchange(map_, {});
}

}  // namespace cairn::projector
