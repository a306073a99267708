// SCEP (RFC 8894) messages, both sides. A pkiMessage is a CMS SignedData carrying the SCEP
// attributes (messageType, transactionID, nonces, pkiStatus, failInfo) around an optional
// EnvelopedData; a request envelopes a PKCS#10 to the server's RA, a successful reply envelopes a
// certs-only SignedData to the requester. The primitives below serve the server (decode_request,
// the replies) and the device simulator's client alike. No HTTP and no policy here:
// enrollment/scep_service decides whom to issue what.
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pki/issuer.hpp"

namespace cairn::pki::scep {

enum class MessageType { kCertRep = 3, kRenewalReq = 17, kPkcsReq = 19, kCertPoll = 20 };

// RFC 8894 failInfo values, sent in a FAILURE CertRep.
enum class FailInfo {
  kBadAlg = 0,
  kBadMessageCheck = 1,
  kBadRequest = 2,
  kBadTime = 3,
  kBadCertId = 4
};
std::string_view fail_info_name(FailInfo info);

inline constexpr std::string_view kSuccess = "0";
inline constexpr std::string_view kFailure = "2";

struct Attributes {
  std::string message_type;  // "19" PKCSReq, "3" CertRep...
  std::string transaction_id;
  std::string sender_nonce;     // raw bytes
  std::string recipient_nonce;  // replies: the request's senderNonce
  std::string pki_status;       // replies
  std::string fail_info;        // FAILURE replies: "0".."4"
};

// Signs `content` (empty for FAILURE replies) as a pkiMessage, DER.
std::string sign_message(const Attributes& attributes, std::string_view content, X509* cert,
                         EVP_PKEY* key, const EVP_MD* digest);

struct SignedMessage {
  Attributes attributes;
  crypto::X509Ptr signer;          // the included certificate that signed it; null if missing
  const EVP_MD* digest = nullptr;  // null: not one of SHA-1, SHA-256, SHA-512
  bool signature_verifies = false;
  std::string content;  // valid only if the signature verifies
};
// Reads a pkiMessage and checks its signature against the signer certificate it includes.
// Throws BadRequest if it is not a SignedData with one signer and a transactionID, senderNonce
// and messageType: nothing that could be answered.
SignedMessage open_message(std::string_view der);

// EnvelopedData (DER) of `content` for `recipient` (RSA key transport).
std::string envelope(std::string_view content, X509* recipient, const EVP_CIPHER* cipher);
// The same for several recipients, as clients do that encrypt to every certificate GetCACert
// returns (each must have an RSA key).
std::string envelope(std::string_view content, const std::vector<X509*>& recipients,
                     const EVP_CIPHER* cipher);
// The content of an EnvelopedData for `recipient`; nullopt if it is not one, or not for it.
std::optional<std::string> open_envelope(std::string_view der, const Identity& recipient);
// Its content-encryption algorithm, if it is AES-CBC or 3DES-CBC.
const EVP_CIPHER* envelope_cipher(std::string_view der);

// A SignedData without signers that carries certificates ("certs-only"), DER; and back.
std::string certs_only(const std::vector<X509*>& certs);
std::vector<crypto::X509Ptr> read_certs_only(std::string_view der);

// ---- The server's side ----

// What is needed to answer a request at all: its transaction and nonce, who signed it, how.
struct Envelope {
  MessageType type = MessageType::kPkcsReq;
  std::string transaction_id;
  std::string sender_nonce;
  crypto::X509Ptr signer;  // self-signed for PKCSReq; the current identity for RenewalReq
  const EVP_MD* digest = nullptr;
  const EVP_CIPHER* cipher = nullptr;  // the requester's content encryption; replies use it
};

using X509ReqPtr = std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)>;

struct Request {
  Envelope envelope;
  X509ReqPtr csr{nullptr, X509_REQ_free};
  std::optional<std::string> challenge_password;
};

// A request that can be answered, but only with FAILURE and this failInfo.
class Refused : public std::runtime_error {
 public:
  Refused(Envelope envelope, FailInfo info, const std::string& why)
      : std::runtime_error(why), envelope_(std::move(envelope)), info_(info) {}
  const Envelope& envelope() const { return envelope_; }
  FailInfo info() const { return info_; }

 private:
  Envelope envelope_;
  FailInfo info_;
};

// Decodes and checks a PKIOperation message (DER). Throws BadRequest when it is not a SCEP
// message at all, Refused when it fails a check (signature, algorithm, not for this RA,
// undecryptable, not a signed PKCS#10).
Request decode_request(std::string_view der, const Identity& ra);

// CertRep SUCCESS carrying `issued` (and `chain`) encrypted to the requester; FAILURE. DER.
std::string success_reply(const Envelope& request, X509* issued, const std::vector<X509*>& chain,
                          const Identity& ra);
std::string failure_reply(const Envelope& request, FailInfo info, const Identity& ra);

// GetCACert with an RA: certs-only with the RA's and the CA's certificates (served as
// application/x-x509-ca-ra-cert).
std::string ca_certificates(const Identity& ra, X509* ca);

// The GetCACaps answer, one capability per line.
std::string_view capabilities();

}  // namespace cairn::pki::scep
