#include "pki/dev_pki.hpp"
#include "common/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/x509v3.h>

#include "crypto/certificate.hpp"

namespace cairn::pki {
namespace {

// The certificate file holds `id`'s certificate followed by `chain`.
void write_identity(const Identity& id, const std::string& cert_path, const std::string& key_path,
                    const std::string& passphrase, const std::vector<X509*>& chain = {}) {
  write_file(key_path, private_key_pem(id.key.get(), &passphrase), true);
  std::string pem = crypto::certificate_pem(id.cert.get());
  for (X509* c : chain) pem += crypto::certificate_pem(c);
  write_file(cert_path, pem, false);
}

bool self_signed(X509* cert) {
  return X509_check_issued(cert, cert) == X509_V_OK;
}

std::string validity_problem(X509* cert) {
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) return "is not valid yet";
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) return "has expired";
  return {};
}

}  // namespace

DevPkiPaths dev_pki_paths(const std::string& data_dir) {
  return {data_dir + "/pki"};
}

crypto::PkeyPtr load_private_key(const std::string& path, const crypto::SecretBox& secrets) {
  const std::string passphrase = secrets.derive_passphrase(kKeyPassphrasePurpose);
  return parse_private_key_pem(read_file(path), &passphrase);
}

bool ensure_dev_pki(const std::string& data_dir, const crypto::SecretBox& secrets, CaKey ca_key) {
  namespace fs = std::filesystem;
  const auto paths = dev_pki_paths(data_dir);
  if (fs::exists(paths.ca_cert()) && fs::exists(paths.server_cert()) &&
      fs::exists(paths.device_cert()) && fs::exists(paths.scep_ra_cert()))
    return false;
  fs::create_directories(paths.dir);
  const std::string passphrase = secrets.derive_passphrase(kKeyPassphrasePurpose);
  Identity ca;
  // What a server certificate is served with: the CA and any intermediates above it (for an
  // imported CA), never a root (clients must already trust it).
  std::vector<crypto::X509Ptr> ca_certs;
  if (fs::exists(paths.ca_cert())) {
    ca_certs = crypto::parse_certificates_pem(read_file(paths.ca_cert()));
    if (ca_certs.empty()) throw std::runtime_error("no certificate in " + paths.ca_cert());
    X509_up_ref(ca_certs.front().get());
    ca.cert.reset(ca_certs.front().get());
    ca.key = load_private_key(paths.ca_key(), secrets);
  } else {
    ca = make_ca("Cairn Development CA", 3650, nullptr, ca_key);
    write_identity(ca, paths.ca_cert(), paths.ca_key(), passphrase);
  }
  if (!fs::exists(paths.server_cert())) {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    auto server = issue_certificate(ca, "Cairn server", CertUsage::kServer,
                                    {"localhost", "127.0.0.1", "::1", host}, 825);
    std::vector<X509*> served_chain;
    for (const auto& c : ca_certs)
      if (!self_signed(c.get())) served_chain.push_back(c.get());
    write_identity(server, paths.server_cert(), paths.server_key(), passphrase, served_chain);
  }
  if (!fs::exists(paths.device_cert())) {
    auto device = issue_certificate(ca, "Cairn example device", CertUsage::kClient, {}, 825);
    write_identity(device, paths.device_cert(), paths.device_key(), passphrase);
  }
  if (!fs::exists(paths.scep_ra_cert()))
    write_identity(issue_scep_ra(ca, 825), paths.scep_ra_cert(), paths.scep_ra_key(), passphrase);
  return true;
}

void import_ca(const std::string& data_dir, const crypto::SecretBox& secrets,
               std::string_view chain_pem, std::string_view key_pem,
               const std::string* key_passphrase) {
  namespace fs = std::filesystem;
  const auto paths = dev_pki_paths(data_dir);
  if (fs::exists(paths.ca_cert()))
    throw std::runtime_error(paths.ca_cert() +
                             " exists: devices trust identities from that CA; import into a new "
                             "data directory, before its first start");
  const auto chain = crypto::parse_certificates_pem(chain_pem);
  if (chain.empty()) throw std::runtime_error("no PEM certificate in the CA file");
  X509* ca = chain.front().get();
  if (X509_check_ca(ca) == 0)
    throw std::runtime_error("the certificate is not a CA (basicConstraints)");
  if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN))
    throw std::runtime_error("the CA's key usage does not allow signing certificates");
  for (size_t i = 0; i < chain.size(); ++i) {
    if (auto why = validity_problem(chain[i].get()); !why.empty())
      throw std::runtime_error("certificate " + std::to_string(i + 1) + " of the CA file " + why);
    if (i > 0 && X509_check_issued(chain[i].get(), chain[i - 1].get()) != X509_V_OK)
      throw std::runtime_error("certificate " + std::to_string(i + 1) +
                               " of the CA file did not issue the one before it");
  }
  crypto::PkeyPtr key;
  try {
    key = parse_private_key_pem(key_pem, key_passphrase);
  } catch (const std::exception&) {
    throw std::runtime_error("cannot read the CA's private key (PEM; wrong passphrase?)");
  }
  const bool matches = X509_check_private_key(ca, key.get()) == 1;
  crypto::drain_openssl_errors();
  if (!matches) throw std::runtime_error("the private key is not the CA certificate's");
  fs::create_directories(paths.dir);
  const std::string passphrase = secrets.derive_passphrase(kKeyPassphrasePurpose);
  X509_up_ref(ca);
  std::vector<X509*> above;
  for (size_t i = 1; i < chain.size(); ++i) above.push_back(chain[i].get());
  write_identity({std::move(key), crypto::X509Ptr(ca)}, paths.ca_cert(), paths.ca_key(), passphrase,
                 above);
}

}  // namespace cairn::pki
