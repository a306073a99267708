// Checkpoints: a node's signed statement of where a partition's audit chain stood
// (events::AuditCheckpointed). The signing key is Ed25519, derived from the keyring: every node
// holding the keyring signs alike and there is no other secret to keep, while verifying needs only
// the public key, which an auditor takes away (`cairn audit public-key`).
#pragma once

#include <string>
#include <vector>

#include "crypto/secret_box.hpp"
#include "schemas/events.hpp"

namespace cairn::audit {

// The bytes signed: the checkpoint's fields, each on a line, after a version tag.
std::string statement(const events::AuditCheckpointed& c);

// The first 8 bytes of SHA-256 of a raw Ed25519 public key, hex.
std::string key_id(std::string_view public_key);

class Signer {
 public:
  // One Ed25519 key per keyring key; the current key's signs, all are listed as public keys
  // (checkpoints signed before a rotation still verify).
  explicit Signer(const crypto::SecretBox& keyring);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;
  // Fills key_id and signature.
  void sign(events::AuditCheckpointed& c) const;
  // Raw 32-byte public keys, the signing one first.
  const std::vector<std::string>& public_keys() const { return public_keys_; }

 private:
  std::string seed_;
  std::vector<std::string> public_keys_;
};

// Whether `c` is signed by one of `public_keys` (raw 32-byte keys, matched by key_id).
bool signature_valid(const events::AuditCheckpointed& c,
                     const std::vector<std::string>& public_keys);

}  // namespace cairn::audit
