#include "crypto/certificate.hpp"

#include <openssl/pem.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "crypto/digest.hpp"

namespace cairn::crypto {

X509Ptr parse_certificate_pem(std::string_view pem) {
  auto bio = memory_bio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    drain_openssl_errors();
    throw BadRequest("not a PEM certificate");
  }
  return cert;
}

std::string certificate_der(X509* cert) {
  return der_of(cert, i2d_X509);
}

std::string certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) throw CryptoError("PEM_write_bio_X509");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string certificate_fingerprint(X509* cert) {
  return sha256_hex(certificate_der(cert));
}

std::string certificate_subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string certificate_subject_uid(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int i = X509_NAME_get_index_by_NID(name, NID_userId, -1);
  if (i < 0) return {};
  const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                     static_cast<size_t>(ASN1_STRING_length(v)));
}

std::string certificate_not_after(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
    throw BadRequest("the certificate has an unreadable expiry");
  return format_rfc3339(std::chrono::system_clock::from_time_t(timegm(&tm)));
}

std::string certificate_serial_hex(X509* cert) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr), BN_free);
  if (!bn) throw CryptoError("ASN1_INTEGER_to_BN");
  std::unique_ptr<char, void (*)(char*)> hex(BN_bn2hex(bn.get()), [](char* p) { OPENSSL_free(p); });
  return hex ? hex.get() : "";
}

std::vector<X509Ptr> parse_certificates_pem(std::string_view pem) {
  std::vector<X509Ptr> certs;
  auto bio = memory_bio(pem);
  while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)})
    certs.push_back(std::move(cert));
  drain_openssl_errors();  // the read loop ends with a "no start line" error
  return certs;
}

TrustStore TrustStore::from_pem(std::string_view pem, Validity validity) {
  X509StorePtr store(X509_STORE_new());
  const auto certs = parse_certificates_pem(pem);
  for (const auto& cert : certs)
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) throw CryptoError("X509_STORE_add_cert");
  if (certs.empty()) throw std::runtime_error("no CA certificate found");
  // Each certificate listed is a trust anchor, an intermediate too (see TrustStore).
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  if (validity == Validity::kIgnored) X509_STORE_set_flags(store.get(), X509_V_FLAG_NO_CHECK_TIME);
  return TrustStore(std::move(store));
}

TrustStore TrustStore::from_pem_file(const std::string& path, Validity validity) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read CA file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_pem(ss.str(), validity);
}

bool is_client_certificate(X509* cert) {
  const bool client = X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) == 1;
  drain_openssl_errors();
  return client;
}

std::string TrustStore::verify(X509* leaf, STACK_OF(X509) * untrusted) const {
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), leaf, untrusted) != 1)
    throw CryptoError("X509_STORE_CTX_init");
  if (X509_verify_cert(ctx.get()) == 1) return {};
  std::string reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  drain_openssl_errors();
  return reason;
}

}  // namespace cairn::crypto
