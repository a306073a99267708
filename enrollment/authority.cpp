#include "enrollment/authority.hpp"

#include <algorithm>

#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "pki/dev_pki.hpp"

namespace cairn::enrollment {

Authority Authority::load(const std::string& data_dir, const crypto::SecretBox& secrets,
                          const std::string& tls_certificate_file,
                          const std::string& tls_private_key_file) {
  pki::ensure_dev_pki(data_dir, secrets);
  const auto paths = pki::dev_pki_paths(data_dir);
  Authority a;
  auto ca_chain = crypto::parse_certificates_pem(read_file(paths.ca_cert()));
  if (ca_chain.empty()) throw std::runtime_error("no certificate in " + paths.ca_cert());
  a.ca = {pki::load_private_key(paths.ca_key(), secrets), std::move(ca_chain.front())};
  for (size_t i = 1; i < ca_chain.size(); ++i) a.ca_chain.push_back(std::move(ca_chain[i]));
  a.scep_ra = {pki::load_private_key(paths.scep_ra_key(), secrets),
               crypto::parse_certificate_pem(read_file(paths.scep_ra_cert()))};
  auto tls_chain = crypto::parse_certificates_pem(read_file(tls_certificate_file));
  if (tls_chain.empty()) throw std::runtime_error("no certificate in " + tls_certificate_file);
  a.server = {pki::load_private_key(tls_private_key_file, secrets), std::move(tls_chain.front())};
  for (size_t i = 1; i < tls_chain.size(); ++i) a.server_chain.push_back(std::move(tls_chain[i]));
  a.scep_challenge = secrets.derive_passphrase(kScepChallengePurpose);
  return a;
}

std::string Authority::scep_ca_fingerprint() const {
  if (!ca_chain.empty() || X509_check_issued(ca.cert.get(), ca.cert.get()) != X509_V_OK) return {};
  return crypto::sha1(crypto::certificate_der(ca.cert.get()));
}

std::vector<std::string> Authority::trust_certificates_der() const {
  std::vector<std::string> out;
  auto add = [&](X509* c) {
    const auto der = crypto::certificate_der(c);
    if (std::find(out.begin(), out.end(), der) == out.end()) out.push_back(der);
  };
  for (const auto& c : server_chain) add(c.get());
  // The TLS certificate is Cairn's own (development PKI) when the CA issued it; devices then
  // need the CA and, for an imported one, what it chains to.
  if (X509_check_issued(ca.cert.get(), server.cert.get()) == X509_V_OK) {
    add(ca.cert.get());
    for (const auto& c : ca_chain) add(c.get());
  }
  return out;
}

events::CertificateIssued certificate_issued(X509* cert, std::string method,
                                             std::string transaction_id) {
  return {std::move(method),
          crypto::certificate_serial_hex(cert),
          crypto::certificate_subject(cert),
          crypto::certificate_fingerprint(cert),
          crypto::certificate_not_after(cert),
          std::move(transaction_id),
          ""};
}

std::string Authority::identity_problem(X509* cert) const {
  return crypto::TrustStore::from_pem(crypto::certificate_pem(ca.cert.get())).verify(cert, nullptr);
}

std::vector<X509*> Authority::server_chain_view() const {
  std::vector<X509*> out;
  for (const auto& c : server_chain) out.push_back(c.get());
  return out;
}

}  // namespace cairn::enrollment
