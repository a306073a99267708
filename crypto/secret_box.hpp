// Encryption at rest for secrets (UnlockTokens, private keys): AES-256-GCM under a keyring.
//
// Sealed form: "v1.<key id>.<base64(nonce | ciphertext | tag)>". The key id (first 8 bytes of the
// key's SHA-256, hex) lets old data open after rotation: put the new key first in the keyring and
// keep the old ones after it. Associated data binds a secret to its owner (e.g. the UDID), so a
// sealed value copied onto another device does not open.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::crypto {

class SecretBox {
 public:
  // `keys` are 32-byte AES keys; the first seals, all open.
  explicit SecretBox(std::vector<std::string> keys);

  // Keyring from $CAIRN_SECRET_KEYS (comma-separated base64 keys) if set, else from
  // <data_dir>/secrets/keyring (one base64 key per line), which is created with a fresh key
  // (mode 0600) if missing.
  static SecretBox load_or_create(const std::string& data_dir);

  std::string seal(std::string_view plaintext, std::string_view associated_data) const;
  // Throws std::runtime_error if the key is unknown or the data was tampered with.
  std::string open(std::string_view sealed, std::string_view associated_data) const;

  // A passphrase derived from the current key, for formats that take one (encrypted PKCS#8).
  std::string derive_passphrase(std::string_view purpose) const;
  // 32 bytes derived from each key for `purpose` (HMAC-SHA256), the current key's first: seeds
  // of keys every node holding the keyring derives alike (the audit checkpoints' signing key).
  std::vector<std::string> derive_seeds(std::string_view purpose) const;

 private:
  struct Key {
    std::string id;
    std::string bytes;
  };
  std::vector<Key> keys_;
};

}  // namespace cairn::crypto
