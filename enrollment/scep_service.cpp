#include "enrollment/scep_service.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/certificate.hpp"
#include "pki/scep.hpp"

namespace cairn::enrollment {
namespace {

constexpr std::string_view kPkiMessage = "application/x-pki-message";

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Reply ScepService::handle(std::string_view operation, std::string_view message, bool is_post,
                          std::string_view body, const std::string& remote_address) {
  if (operation == "GetCACaps") return {200, std::string(pki::scep::capabilities()), "text/plain"};
  if (operation == "GetCACert")
    return {200, pki::scep::ca_certificates(authority_.scep_ra, authority_.ca.cert.get()),
            "application/x-x509-ca-ra-cert"};
  if (operation == "PKIOperation") {
    if (is_post) return pki_operation(body, remote_address);
    // GET carries the message base64 in the query; a '+' left unescaped arrives as a space.
    std::string text(message);
    std::replace(text.begin(), text.end(), ' ', '+');
    std::string der;
    try {
      der = base64_decode(text);
    } catch (const std::exception&) {
      der.clear();
    }
    if (der.empty()) {
      refused("PKIOperation message is not base64", "", "", remote_address);
      throw BadRequest("PKIOperation message is not base64");
    }
    return pki_operation(der, remote_address);
  }
  const std::string why = "unknown SCEP operation \"" + std::string(operation) +
                          "\" (GetCACaps, GetCACert, PKIOperation)";
  refused(why, "", "", remote_address);
  throw BadRequest(why);
}

Reply ScepService::pki_operation(std::string_view der, const std::string& remote_address) {
  pki::scep::Request request;
  try {
    request = pki::scep::decode_request(der, authority_.scep_ra);
  } catch (const pki::scep::Refused& r) {
    refused(r.what(), std::string(pki::scep::fail_info_name(r.info())), r.envelope().transaction_id,
            remote_address);
    return {200, pki::scep::failure_reply(r.envelope(), r.info(), authority_.scep_ra),
            std::string(kPkiMessage)};
  } catch (const BadRequest& e) {
    refused(e.what(), "", "", remote_address);
    throw;
  }
  auto& envelope = request.envelope;
  auto refuse = [&](pki::scep::FailInfo info, const std::string& why) {
    refused(why, std::string(pki::scep::fail_info_name(info)), envelope.transaction_id,
            remote_address);
    return Reply{200, pki::scep::failure_reply(envelope, info, authority_.scep_ra),
                 std::string(kPkiMessage)};
  };
  // Renewal (a request signed with the current identity) is not served yet, and GetCACaps does
  // not offer it: devices then enroll again with a new PKCSReq.
  if (envelope.type != pki::scep::MessageType::kPkcsReq)
    return refuse(pki::scep::FailInfo::kBadRequest, "only PKCSReq is served");
  if (!request.challenge_password ||
      !same_secret(*request.challenge_password, authority_.scep_challenge))
    return refuse(pki::scep::FailInfo::kBadRequest, request.challenge_password
                                                        ? "wrong challenge password"
                                                        : "the request has no challenge password");
  auto issued =
      pki::issue_for_public_key(authority_.ca, X509_REQ_get_subject_name(request.csr.get()),
                                X509_REQ_get0_pubkey(request.csr.get()), authority_.identity_days);
  auto p = certificate_issued(issued.get(), "scep", envelope.transaction_id);
  logging::info("SCEP certificate issued", {{"subject", p.subject},
                                            {"fingerprint", p.fingerprint},
                                            {"transaction", p.transaction_id},
                                            {"remote", remote_address}});
  // Recorded before the device can use it: an identity Cairn cannot account for never exists.
  writer_.append({writer_.make("", "scep", std::move(p))});
  return {200,
          pki::scep::success_reply(envelope, issued.get(), {authority_.ca.cert.get()},
                                   authority_.scep_ra),
          std::string(kPkiMessage)};
}

void ScepService::refused(const std::string& reason, const std::string& fail_info,
                          const std::string& transaction_id, const std::string& remote_address) {
  logging::warn("SCEP request refused", {{"reason", reason},
                                         {"fail_info", fail_info},
                                         {"transaction", transaction_id},
                                         {"remote", remote_address}});
  writer_.append({writer_.make(
      "", "scep",
      events::EnrollmentRefused{"scep", reason, fail_info, transaction_id, remote_address})});
}

}  // namespace cairn::enrollment
