// Certificate issuance with Cairn's CA: key generation, CA creation, leaf certificates, PEM I/O.
// Used by `cairn pki init`, by tests (which make their own CAs and devices) and by simulators.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crypto/openssl_handles.hpp"

namespace cairn::pki {

struct Identity {
  crypto::PkeyPtr key;
  crypto::X509Ptr cert;
};
// Another owner of the same key and certificate.
Identity share(const Identity& identity);

enum class CertUsage { kServer, kClient };

crypto::PkeyPtr generate_ec_p256_key();
crypto::PkeyPtr generate_rsa_key(int bits);
// A CA's key. P-256 by default (small, fast signatures). RSA for deployments whose SCEP clients
// encrypt their request to every certificate GetCACert returns (a widely used Go SCEP library
// does, and fails on an EC one): with an RSA CA each of them can receive it.
enum class CaKey { kEcP256, kRsa2048 };
// Self-signed, or an intermediate issued by `parent`.
Identity make_ca(std::string_view common_name, int days, const Identity* parent = nullptr,
                 CaKey key_type = CaKey::kEcP256);
// `subject_alt_names` are DNS names or IP addresses (for servers).
Identity issue_certificate(const Identity& ca, std::string_view common_name, CertUsage usage,
                           const std::vector<std::string>& subject_alt_names, int days);

// A device identity for a key the device made (SCEP): `subject` from its request, client
// authentication only, signed by `ca`. The CA decides everything else.
crypto::X509Ptr issue_for_public_key(const Identity& ca, const X509_NAME* subject,
                                     EVP_PKEY* public_key, int days);

// The SCEP registration authority: an RSA key and certificate issued by `ca` for signing SCEP
// replies and receiving requests encrypted to it. Devices encrypt SCEP requests with RSA key
// transport only, so an EC CA (Cairn's) cannot take that role itself.
Identity issue_scep_ra(const Identity& ca, int days);

// A password-protected PKCS#12 of `id` and `chain`, with the algorithms Apple's devices read
// (PBE with 3DES and a SHA-1 MAC): OpenSSL 3's default (AES, PBKDF2) is refused by many iOS and
// macOS versions still in fleets.
std::string pkcs12_der(const Identity& id, const std::vector<X509*>& chain,
                       const std::string& password, const std::string& friendly_name);

struct Pkcs12Contents {
  Identity identity;
  std::vector<crypto::X509Ptr> chain;
};
// Opens a PKCS#12 file (Keychain's older RC2/3DES exports included, through OpenSSL's legacy
// provider). Throws BadRequest when it is not one, or the password is wrong.
Pkcs12Contents read_pkcs12(std::string_view der, const std::string& password);

// A certificate shaped like Apple's MDM push certificates (subject UID = the topic, CN =
// APSP:<uuid>, client authentication), for the APNs simulator and tests.
Identity issue_push_certificate(const Identity& ca, std::string_view topic, int days);

// PKCS#8 PEM; encrypted with AES-256-CBC when a passphrase is given (Cairn always gives one for
// keys it writes to disk).
std::string private_key_pem(EVP_PKEY* key, const std::string* passphrase);
crypto::PkeyPtr parse_private_key_pem(std::string_view pem, const std::string* passphrase);

}  // namespace cairn::pki
