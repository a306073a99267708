#include "pki/dev_pki.hpp"
#include "common/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/certificate.hpp"

namespace cairn::pki {
namespace {

void write_identity(const Identity& id, const std::string& cert_path, const std::string& key_path,
                    const std::string& passphrase) {
  write_file(key_path, private_key_pem(id.key.get(), &passphrase), true);
  write_file(cert_path, crypto::certificate_pem(id.cert.get()), false);
}

}  // namespace

DevPkiPaths dev_pki_paths(const std::string& data_dir) {
  return {data_dir + "/pki"};
}

crypto::PkeyPtr load_private_key(const std::string& path, const crypto::SecretBox& secrets) {
  const std::string passphrase = secrets.derive_passphrase(kKeyPassphrasePurpose);
  return parse_private_key_pem(read_file(path), &passphrase);
}

bool ensure_dev_pki(const std::string& data_dir, const crypto::SecretBox& secrets) {
  namespace fs = std::filesystem;
  const auto paths = dev_pki_paths(data_dir);
  if (fs::exists(paths.ca_cert()) && fs::exists(paths.server_cert()) &&
      fs::exists(paths.device_cert()) && fs::exists(paths.scep_ra_cert()))
    return false;
  fs::create_directories(paths.dir);
  const std::string passphrase = secrets.derive_passphrase(kKeyPassphrasePurpose);
  Identity ca;
  if (fs::exists(paths.ca_cert())) {
    ca.cert = crypto::parse_certificate_pem(read_file(paths.ca_cert()));
    ca.key = load_private_key(paths.ca_key(), secrets);
  } else {
    ca = make_ca("Cairn Development CA", 3650);
    write_identity(ca, paths.ca_cert(), paths.ca_key(), passphrase);
  }
  if (!fs::exists(paths.server_cert())) {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    auto server = issue_certificate(ca, "Cairn server", CertUsage::kServer,
                                    {"localhost", "127.0.0.1", "::1", host}, 825);
    write_identity(server, paths.server_cert(), paths.server_key(), passphrase);
  }
  if (!fs::exists(paths.device_cert())) {
    auto device = issue_certificate(ca, "Cairn example device", CertUsage::kClient, {}, 825);
    write_identity(device, paths.device_cert(), paths.device_key(), passphrase);
  }
  if (!fs::exists(paths.scep_ra_cert()))
    write_identity(issue_scep_ra(ca, 825), paths.scep_ra_cert(), paths.scep_ra_key(), passphrase);
  return true;
}

}  // namespace cairn::pki
