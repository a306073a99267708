// libFuzzer target: a SCEP PKIOperation message, as /scep reads it (pki::scep::decode_request).
// The first byte chooses what the rest is:
//   even: the whole DER message, to exercise the outer SignedData and its attributes;
//   odd:  the content of a PKCSReq (the PKCS#10 inside), which this target envelopes to the RA and
//         signs, so that the checks behind the signature and the decryption are reached too.
// A message Cairn cannot answer must be a BadRequest or a Refused (FAILURE reply), never a crash.
#include <openssl/evp.h>

#include <cstdint>
#include <string_view>

#include "common/errors.hpp"
#include "pki/issuer.hpp"
#include "pki/scep.hpp"

namespace {

struct Parties {
  cairn::pki::Identity ca = cairn::pki::make_ca("Fuzz CA", 1);
  cairn::pki::Identity ra = cairn::pki::issue_scep_ra(ca, 1);
  cairn::pki::Identity requester =
      cairn::pki::issue_certificate(ca, "requester", cairn::pki::CertUsage::kClient, {}, 1);
};

const Parties& parties() {
  static const Parties p;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace scep = cairn::pki::scep;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Parties& p = parties();
  std::string message(rest);
  if (data[0] % 2 == 1) {
    scep::Attributes a;
    a.message_type = "19";
    a.transaction_id = "fuzz";
    a.sender_nonce = "0123456789abcdef";
    message = scep::sign_message(a, scep::envelope(rest, p.ra.cert.get(), EVP_aes_128_cbc()),
                                 p.requester.cert.get(), p.requester.key.get(), EVP_sha256());
  }
  try {
    (void)scep::decode_request(message, p.ra);
  } catch (const cairn::BadRequest&) {
  } catch (const scep::Refused&) {
  }
  return 0;
}
