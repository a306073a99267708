// Tamper evidence for the log (docs/audit.md): a digest of every record, chained per partition,
// and a Merkle tree (RFC 6962's) over the records a checkpoint covers, so that one record can be
// proven against a signed checkpoint without showing the others.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::audit {

// SHA-256 over the record's key, type and value, each length-prefixed: a change to any of them
// (Kafka's key and type header included) changes it. 32 raw bytes.
std::string record_digest(std::string_view key, std::string_view type, std::string_view value);

// The chain before a partition's first record: 32 zero bytes.
std::string genesis();
// The chain after a record: SHA-256(chain before ‖ record digest).
std::string chain_link(std::string_view before, std::string_view digest);

// RFC 6962 §2.1: leaves hashed as SHA-256(0x00 ‖ digest), nodes as SHA-256(0x01 ‖ left ‖ right).
std::string merkle_root(const std::vector<std::string>& digests);
// The audit path of leaf `index` (RFC 6962 §2.1.1), leaf's sibling first.
std::vector<std::string> merkle_path(const std::vector<std::string>& digests, size_t index);
// The root that leaf `digest` at `index` of `size` leaves leads to along `path` (RFC 9162
// §2.1.3.2); empty when the path cannot belong to such a tree.
std::string root_from_path(std::string_view digest, size_t index, size_t size,
                           const std::vector<std::string>& path);

}  // namespace cairn::audit
