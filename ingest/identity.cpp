#include "ingest/identity.hpp"

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"

namespace cairn::ingest {

ClientIdentity IdentityResolver::resolve(const IdentityEvidence& evidence,
                                         std::string_view body) const {
  if (evidence.tls_peer) {
    // A resumed TLS session is not verified again: its certificate may have expired since.
    if (X509_cmp_current_time(X509_get0_notAfter(evidence.tls_peer)) < 0)
      throw BadRequest("TLS client certificate has expired: connect again without resuming");
    return {crypto::certificate_fingerprint(evidence.tls_peer), "tls"};
  }
  // Like the TLS handshake's check of a client certificate: a certificate of the device CA made
  // for something else (the SCEP RA's, a server's) is no device identity.
  auto require_client = [](X509* cert, const char* what) {
    if (!crypto::is_client_certificate(cert))
      throw BadRequest(std::string(what) + " certificate is not a client certificate");
  };
  if (evidence.mdm_signature) {
    auto signer = signatures_.verify(*evidence.mdm_signature, body);
    require_client(signer.get(), "Mdm-Signature");
    return {crypto::certificate_fingerprint(signer.get()), "mdm-signature"};
  }
  if (evidence.proxy_certificate) {
    auto cert = crypto::parse_certificate_pem(percent_decode(*evidence.proxy_certificate));
    if (auto why = device_ca_->verify(cert.get(), nullptr); !why.empty())
      throw BadRequest("proxy-supplied client certificate is not trusted: " + why);
    require_client(cert.get(), "proxy-supplied");
    return {crypto::certificate_fingerprint(cert.get()), "proxy-header"};
  }
  throw BadRequest("no device identity: send a TLS client certificate or an Mdm-Signature header");
}

}  // namespace cairn::ingest
