// Who is speaking: the device identity certificate behind a request, from (in this order) the TLS
// client certificate, the Mdm-Signature header, or a trusted proxy's header carrying the client
// certificate (URL-escaped PEM, as nginx's $ssl_client_escaped_cert). One layer in front of the
// device service; the service only sees the resulting fingerprint.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"

namespace cairn::ingest {

struct ClientIdentity {
  std::string fingerprint;  // SHA-256 of the certificate's DER, hex
  std::string source;       // "tls", "mdm-signature" or "proxy-header"
};

struct IdentityEvidence {
  X509* tls_peer = nullptr;  // already verified by the TLS handshake
  std::optional<std::string> mdm_signature;
  std::optional<std::string> proxy_certificate;  // only read when a proxy header is configured
};

class IdentityResolver {
 public:
  explicit IdentityResolver(std::shared_ptr<const crypto::TrustStore> device_ca)
      : device_ca_(device_ca), signatures_(std::move(device_ca)) {}

  // Throws BadRequest if there is no identity or it does not verify. (Not 401: a request that
  // lost its certificate on the way is not proof that the device is unmanaged.)
  ClientIdentity resolve(const IdentityEvidence& evidence, std::string_view body) const;

 private:
  std::shared_ptr<const crypto::TrustStore> device_ca_;
  crypto::MdmSignatureVerifier signatures_;  // remembers each device's certificate
};

}  // namespace cairn::ingest
