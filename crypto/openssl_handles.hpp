// RAII owners for OpenSSL objects: every handle Cairn holds is one of these.
#pragma once

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace cairn::crypto {

template <typename T, void (*Free)(T*)>
struct OpensslDeleter {
  void operator()(T* p) const { Free(p); }
};

using X509Ptr = std::unique_ptr<X509, OpensslDeleter<X509, X509_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslDeleter<SSL, SSL_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO, BIO_free_all>>;
using CmsPtr =
    std::unique_ptr<CMS_ContentInfo, OpensslDeleter<CMS_ContentInfo, CMS_ContentInfo_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpensslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using CipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, OpensslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

inline void free_x509_stack(STACK_OF(X509) * s) {
  sk_X509_pop_free(s, X509_free);
}
using X509StackPtr =
    std::unique_ptr<STACK_OF(X509), OpensslDeleter<STACK_OF(X509), free_x509_stack>>;

// Thrown for OpenSSL failures that are not the caller's fault; carries OpenSSL's error queue.
class CryptoError : public std::runtime_error {
 public:
  explicit CryptoError(const std::string& what);
};

// Text of OpenSSL's thread-local error queue (and clears it).
std::string drain_openssl_errors();

// `object` in DER through its OpenSSL i2d_* function.
template <typename T, typename I2d>
std::string der_of(T* object, I2d i2d) {
  unsigned char* der = nullptr;
  const int len = i2d(object, &der);
  if (len <= 0) throw CryptoError("DER encoding failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

inline BioPtr memory_bio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

}  // namespace cairn::crypto
