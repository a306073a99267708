#include "audit/chain.hpp"

#include <cstdint>

#include "crypto/digest.hpp"

namespace cairn::audit {
namespace {

void append_length_prefixed(std::string& out, std::string_view part) {
  const auto n = static_cast<uint32_t>(part.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(part);
}

std::string leaf_hash(std::string_view digest) {
  std::string in(1, '\0');
  in.append(digest);
  return crypto::sha256(in);
}

std::string node_hash(std::string_view left, std::string_view right) {
  std::string in(1, '\1');
  in.append(left);
  in.append(right);
  return crypto::sha256(in);
}

// The largest power of two below n (n > 1): where RFC 6962 splits a tree.
size_t split_point(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

std::string subtree_root(const std::vector<std::string>& digests, size_t begin, size_t end) {
  if (end - begin == 1) return leaf_hash(digests[begin]);
  const size_t k = split_point(end - begin);
  return node_hash(subtree_root(digests, begin, begin + k), subtree_root(digests, begin + k, end));
}

void subtree_path(const std::vector<std::string>& digests, size_t index, size_t begin, size_t end,
                  std::vector<std::string>& path) {
  if (end - begin == 1) return;
  const size_t k = split_point(end - begin);
  if (index < begin + k) {
    subtree_path(digests, index, begin, begin + k, path);
    path.push_back(subtree_root(digests, begin + k, end));
  } else {
    subtree_path(digests, index, begin + k, end, path);
    path.push_back(subtree_root(digests, begin, begin + k));
  }
}

}  // namespace

std::string record_digest(std::string_view key, std::string_view type, std::string_view value) {
  std::string in;
  in.reserve(key.size() + type.size() + value.size() + 12);
  append_length_prefixed(in, key);
  append_length_prefixed(in, type);
  append_length_prefixed(in, value);
  return crypto::sha256(in);
}

std::string genesis() {
  return std::string(32, '\0');
}

std::string chain_link(std::string_view before, std::string_view digest) {
  std::string in(before);
  in.append(digest);
  return crypto::sha256(in);
}

std::string merkle_root(const std::vector<std::string>& digests) {
  if (digests.empty()) return crypto::sha256("");
  return subtree_root(digests, 0, digests.size());
}

std::vector<std::string> merkle_path(const std::vector<std::string>& digests, size_t index) {
  std::vector<std::string> path;
  if (index < digests.size()) subtree_path(digests, index, 0, digests.size(), path);
  return path;
}

std::string root_from_path(std::string_view digest, size_t index, size_t size,
                           const std::vector<std::string>& path) {
  if (index >= size) return {};
  size_t fn = index, sn = size - 1;
  std::string r = leaf_hash(digest);
  for (const auto& p : path) {
    if (sn == 0) return {};
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1) == 0)
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 ? r : std::string();
}

}  // namespace cairn::audit
