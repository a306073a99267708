// The development PKI that `cairn pki init` writes into a data directory:
//   pki/ca.crt, pki/ca.key         Cairn's CA (device identities and the server certificate);
//                                  ca.crt may carry an imported CA's chain after it (import_ca)
//   pki/server.crt, pki/server.key TLS server identity (SANs: localhost, 127.0.0.1, ::1, host name)
//   pki/device.crt, pki/device.key an example device identity for trying the protocol by hand
//   pki/scep-ra.crt, pki/scep-ra.key  the SCEP registration authority (RSA, issued by the CA)
// Private keys are encrypted PKCS#8 under a passphrase derived from the secret keyring
// (`cairn pki passphrase` prints it for use with openssl/curl).
#pragma once

#include <string>
#include <string_view>

#include "crypto/secret_box.hpp"
#include "pki/issuer.hpp"

namespace cairn::pki {

inline constexpr std::string_view kKeyPassphrasePurpose = "cairn private key v1";

struct DevPkiPaths {
  std::string dir;
  std::string ca_cert() const { return dir + "/ca.crt"; }
  std::string ca_key() const { return dir + "/ca.key"; }
  std::string server_cert() const { return dir + "/server.crt"; }
  std::string server_key() const { return dir + "/server.key"; }
  std::string device_cert() const { return dir + "/device.crt"; }
  std::string device_key() const { return dir + "/device.key"; }
  std::string scep_ra_cert() const { return dir + "/scep-ra.crt"; }
  std::string scep_ra_key() const { return dir + "/scep-ra.key"; }
};

DevPkiPaths dev_pki_paths(const std::string& data_dir);
// Creates the files that are missing; never overwrites existing ones (`ca_key` matters only when
// there is no CA yet). Returns true if it created any.
bool ensure_dev_pki(const std::string& data_dir, const crypto::SecretBox& secrets,
                    CaKey ca_key = CaKey::kEcP256);
// Makes an external CA Cairn's issuing CA, in a data directory that has no CA yet (devices trust
// identities from the CA it has; replacing it would strand them). `chain_pem`: the CA certificate
// first, then the certificates above it up to its root, each issuing the one before;
// `key_pem`: its private key, encrypted under `key_passphrase` or clear (null). The key is
// written encrypted under the keyring like every key Cairn keeps. Throws std::runtime_error
// saying what is wrong (not a CA, cannot sign certificates, expired, key or chain mismatch).
void import_ca(const std::string& data_dir, const crypto::SecretBox& secrets,
               std::string_view chain_pem, std::string_view key_pem,
               const std::string* key_passphrase);

// Reads a key written by ensure_dev_pki.
crypto::PkeyPtr load_private_key(const std::string& path, const crypto::SecretBox& secrets);

}  // namespace cairn::pki
