// X.509 certificates: parsing, fingerprints, and chain verification against Cairn's trust anchors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crypto/openssl_handles.hpp"

namespace cairn::crypto {

X509Ptr parse_certificate_pem(std::string_view pem);  // throws BadRequest
// Every certificate in a PEM text, in order (none: empty).
std::vector<X509Ptr> parse_certificates_pem(std::string_view pem);
std::string certificate_der(X509* cert);
std::string certificate_pem(X509* cert);
// The identity Cairn binds to a UDID: SHA-256 of the certificate's DER, hex.
std::string certificate_fingerprint(X509* cert);
std::string certificate_subject(X509* cert);
// notAfter as RFC 3339 UTC; throws BadRequest if unreadable.
std::string certificate_not_after(X509* cert);
std::string certificate_serial_hex(X509* cert);
// The subject's UID attribute ("" if none): the topic of an APNs push certificate.
std::string certificate_subject_uid(X509* cert);

// A set of trusted CA certificates. Thread-safe for verification.
// The certificates trusted as issuers. Each is an anchor of its own: a leaf verifies against an
// intermediate listed here without the root above it being listed (or trusted).
// True if `cert` may identify a TLS client: OpenSSL's "sslclient" purpose, the check the TLS
// handshake applies to a client certificate (an extended key usage, if present, includes
// clientAuth; a key usage, if present, allows signing; not a CA).
bool is_client_certificate(X509* cert);

class TrustStore {
 public:
  // Whether certificates' validity periods count. Ignored only for a chain that is known to be
  // past its dates and still in use: Apple's iPhone Device CA (2014) signs devices' MachineInfo.
  enum class Validity { kChecked, kIgnored };
  // Loads every certificate in a PEM file. Throws std::runtime_error if none can be read.
  static TrustStore from_pem_file(const std::string& path, Validity validity = Validity::kChecked);
  static TrustStore from_pem(std::string_view pem, Validity validity = Validity::kChecked);

  // Verifies `leaf` chains to a trusted CA (with `untrusted` intermediates, may be null) and is
  // within its validity period. Returns an empty string on success, else the reason.
  std::string verify(X509* leaf, STACK_OF(X509) * untrusted) const;

 private:
  explicit TrustStore(X509StorePtr store) : store_(std::move(store)) {}
  std::shared_ptr<X509_STORE> store_;
};

}  // namespace cairn::crypto
