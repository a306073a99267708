#include "pki/issuer.hpp"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/errors.hpp"
#include "crypto/digest.hpp"

namespace cairn::pki {
namespace {

using crypto::CryptoError;

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw CryptoError("X509V3_EXT_conf_nid " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

crypto::X509Ptr new_certificate(std::string_view common_name, EVP_PKEY* subject_key, int days) {
  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  const std::string serial = crypto::random_bytes(16);
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 15, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate small clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Cairn"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_UTF8,
      reinterpret_cast<const unsigned char*>(std::string(common_name).c_str()), -1, -1, 0);
  return cert;
}

bool is_ip_address(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Makes `cert` (subject and key set) a leaf of `ca` with these usages, and signs it.
void sign_leaf(const Identity& ca, X509* cert, const std::string& key_usage,
               const std::string& extended_key_usage) {
  X509_set_issuer_name(cert, X509_get_subject_name(ca.cert.get()));
  add_extension(cert, ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert, ca.cert.get(), NID_key_usage, key_usage);
  if (!extended_key_usage.empty())
    add_extension(cert, ca.cert.get(), NID_ext_key_usage, extended_key_usage);
  add_extension(cert, ca.cert.get(), NID_authority_key_identifier, "keyid");
  if (!X509_sign(cert, ca.key.get(), EVP_sha256())) throw CryptoError("X509_sign");
}

Identity issue_leaf(const Identity& ca, std::string_view common_name, std::string_view uid,
                    CertUsage usage, const std::vector<std::string>& subject_alt_names, int days) {
  auto key = generate_ec_p256_key();
  auto cert = new_certificate(common_name, key.get(), days);
  if (!uid.empty())
    X509_NAME_add_entry_by_NID(X509_get_subject_name(cert.get()), NID_userId, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(std::string(uid).c_str()), -1,
                               0, 0);
  if (!subject_alt_names.empty()) {
    std::string sans;
    for (const auto& san : subject_alt_names)
      sans += (sans.empty() ? "" : ",") + std::string(is_ip_address(san) ? "IP:" : "DNS:") + san;
    add_extension(cert.get(), ca.cert.get(), NID_subject_alt_name, sans);
  }
  sign_leaf(ca, cert.get(), "critical,digitalSignature",
            usage == CertUsage::kServer ? "serverAuth" : "clientAuth");
  return {std::move(key), std::move(cert)};
}

}  // namespace

crypto::PkeyPtr generate_ec_p256_key() {
  crypto::PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw CryptoError("EVP_EC_gen");
  return key;
}

crypto::PkeyPtr generate_rsa_key(int bits) {
  crypto::PkeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)));
  if (!key) throw CryptoError("EVP_RSA_gen");
  return key;
}

Identity make_ca(std::string_view common_name, int days, const Identity* parent, CaKey key_type) {
  auto key = key_type == CaKey::kRsa2048 ? generate_rsa_key(2048) : generate_ec_p256_key();
  auto cert = new_certificate(common_name, key.get(), days);
  X509* issuer = parent ? parent->cert.get() : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (parent) add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid");
  if (!X509_sign(cert.get(), parent ? parent->key.get() : key.get(), EVP_sha256()))
    throw CryptoError("X509_sign");
  return {std::move(key), std::move(cert)};
}

Identity issue_certificate(const Identity& ca, std::string_view common_name, CertUsage usage,
                           const std::vector<std::string>& subject_alt_names, int days) {
  return issue_leaf(ca, common_name, {}, usage, subject_alt_names, days);
}

crypto::X509Ptr issue_for_public_key(const Identity& ca, const X509_NAME* subject,
                                     EVP_PKEY* public_key, int days) {
  auto cert = new_certificate("", public_key, days);
  if (!X509_set_subject_name(cert.get(), subject)) throw CryptoError("X509_set_subject_name");
  // Key encipherment too: SCEP clients (and Apple's) use the identity to decrypt the reply.
  sign_leaf(ca, cert.get(), "critical,digitalSignature,keyEncipherment", "clientAuth");
  return cert;
}

Identity issue_scep_ra(const Identity& ca, int days) {
  auto key = generate_rsa_key(2048);
  auto cert = new_certificate("Cairn SCEP RA", key.get(), days);
  sign_leaf(ca, cert.get(), "critical,digitalSignature,keyEncipherment", "");
  return {std::move(key), std::move(cert)};
}

std::string pkcs12_der(const Identity& id, const std::vector<X509*>& chain,
                       const std::string& password, const std::string& friendly_name) {
  crypto::X509StackPtr cas(sk_X509_new_null());
  for (X509* c : chain) {
    X509_up_ref(c);
    sk_X509_push(cas.get(), c);
  }
  constexpr int kPbe = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(
      PKCS12_create(password.c_str(), friendly_name.c_str(), id.key.get(), id.cert.get(), cas.get(),
                    kPbe, kPbe, 2048, -1, 0),
      PKCS12_free);
  if (!p12) throw CryptoError("PKCS12_create");
  if (!PKCS12_set_mac(p12.get(), password.c_str(), -1, nullptr, 0, 2048, EVP_sha1()))
    throw CryptoError("PKCS12_set_mac");
  return crypto::der_of(p12.get(), i2d_PKCS12);
}

namespace {

bool open_pkcs12(PKCS12* p12, const std::string& password, Pkcs12Contents& out) {
  EVP_PKEY* k = nullptr;
  X509* c = nullptr;
  STACK_OF(X509)* ca = nullptr;
  const bool ok = PKCS12_parse(p12, password.c_str(), &k, &c, &ca) == 1;
  out.identity.key.reset(k);
  out.identity.cert.reset(c);
  crypto::X509StackPtr chain(ca);
  out.chain.clear();
  while (chain && sk_X509_num(chain.get()) > 0) out.chain.emplace_back(sk_X509_shift(chain.get()));
  crypto::drain_openssl_errors();
  return ok && out.identity.key && out.identity.cert;
}

}  // namespace

Pkcs12Contents read_pkcs12(std::string_view der, const std::string& password) {
  auto bio = crypto::memory_bio(der);
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(d2i_PKCS12_bio(bio.get(), nullptr),
                                                      PKCS12_free);
  crypto::drain_openssl_errors();
  if (!p12) throw BadRequest("not a PKCS#12 file");
  Pkcs12Contents out;
  if (!open_pkcs12(p12.get(), password, out)) {
    // Keychain's older exports use RC2/3DES, which OpenSSL 3 keeps in its legacy provider.
    static const bool legacy = OSSL_PROVIDER_load(nullptr, "legacy") != nullptr &&
                               OSSL_PROVIDER_load(nullptr, "default") != nullptr;
    if (!legacy || !open_pkcs12(p12.get(), password, out))
      throw BadRequest("cannot open the PKCS#12 file: wrong password, or no key and certificate");
  }
  return out;
}

Identity issue_push_certificate(const Identity& ca, std::string_view topic, int days) {
  return issue_leaf(ca, "APSP:" + crypto::uuid_v4(), topic, CertUsage::kClient, {}, days);
}

std::string private_key_pem(EVP_PKEY* key, const std::string* passphrase) {
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = passphrase ? EVP_aes_256_cbc() : nullptr;
  if (!PEM_write_bio_PKCS8PrivateKey(
          bio.get(), key, cipher, passphrase ? passphrase->c_str() : nullptr,
          passphrase ? static_cast<int>(passphrase->size()) : 0, nullptr, nullptr))
    throw CryptoError("PEM_write_bio_PKCS8PrivateKey");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

crypto::PkeyPtr parse_private_key_pem(std::string_view pem, const std::string* passphrase) {
  auto bio = crypto::memory_bio(pem);
  crypto::PkeyPtr key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, nullptr,
      passphrase ? const_cast<char*>(passphrase->c_str()) : const_cast<char*>("")));
  if (!key) throw CryptoError("cannot read private key (wrong keyring?)");
  return key;
}

Identity share(const Identity& identity) {
  EVP_PKEY_up_ref(identity.key.get());
  X509_up_ref(identity.cert.get());
  return {crypto::PkeyPtr(identity.key.get()), crypto::X509Ptr(identity.cert.get())};
}

}  // namespace cairn::pki
