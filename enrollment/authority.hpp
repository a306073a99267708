// What enrollment signs and issues with, loaded once at start (keys in memory only):
// Cairn's CA (issues device identities), the SCEP registration authority (RSA: devices encrypt
// their requests to it, it signs the replies), and the server's TLS identity (signs profiles).
#pragma once

#include <string>
#include <vector>

#include "crypto/secret_box.hpp"
#include "pki/issuer.hpp"
#include "schemas/events.hpp"

namespace cairn::enrollment {

struct Authority {
  pki::Identity ca;
  // The certificates above an imported CA, up to its root (empty for Cairn's own, self-signed).
  std::vector<crypto::X509Ptr> ca_chain;
  pki::Identity scep_ra;
  pki::Identity server;
  std::vector<crypto::X509Ptr> server_chain;  // certificates after the leaf in the TLS file
  std::string scep_challenge;                 // the static challenge (derived from the keyring)
  int identity_days = 365;                    // lifetime of issued device identities

  // The development PKI of a data directory (creating what is missing, the SCEP RA included)
  // and the TLS identity in `tls_certificate_file` / `tls_private_key_file` (PEM; the key
  // encrypted with the keyring's passphrase, as Cairn writes them).
  static Authority load(const std::string& data_dir, const crypto::SecretBox& secrets,
                        const std::string& tls_certificate_file,
                        const std::string& tls_private_key_file);

  // What a device must trust to reach the server: the TLS chain's CA certificates and Cairn's CA
  // (DER, without duplicates).
  std::vector<std::string> trust_certificates_der() const;
  std::vector<X509*> server_chain_view() const;
  // The SCEP payload's CAFingerprint: SHA-1 of Cairn's CA when it is its own root, the top of
  // the chain GetCACert answers, which is what Apple's SCEP client hashes. Empty for an imported
  // CA: a device may extend that chain to a root it already trusts and hash that instead, and a
  // mismatch fails the enrollment, so the pin is left out there.
  std::string scep_ca_fingerprint() const;
  // Why `cert` is not an identity Cairn's CA issued and still valid, or empty if it is.
  std::string identity_problem(X509* cert) const;
};

// The event that accounts for an identity Cairn's CA issued (`method`: "scep" or "pkcs12").
events::CertificateIssued certificate_issued(X509* cert, std::string method,
                                             std::string transaction_id = "");

// The purpose string the static SCEP challenge is derived under (`cairn scep challenge` prints
// the same value).
inline constexpr std::string_view kScepChallengePurpose = "cairn scep challenge v1";

}  // namespace cairn::enrollment
