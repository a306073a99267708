#include "enrollment/scep_service.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "pki/scep.hpp"

namespace cairn::enrollment {
namespace {

constexpr std::string_view kPkiMessage = "application/x-pki-message";

// The subject of an identity Cairn issues: the requested common name only (printable, at most
// 64 characters), under Cairn's own O and OU. Nothing else a requester asks for is copied, so a
// device certificate cannot pass for the server or for Cairn's CA by name.
using NamePtr = std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)>;

NamePtr device_subject(X509_REQ* csr) {
  std::string cn;
  X509_NAME* requested = X509_REQ_get_subject_name(csr);
  const int at = X509_NAME_get_index_by_NID(requested, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(requested, at));
    cn.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
              static_cast<size_t>(ASN1_STRING_length(v)));
  }
  if (cn.empty() || cn.size() > 64 ||
      std::any_of(cn.begin(), cn.end(), [](char c) { return c < 0x20 || c == 0x7f; }))
    cn = "device";
  NamePtr name(X509_NAME_new(), X509_NAME_free);
  for (const auto& [field, value] : {std::pair<const char*, std::string>{"O", "Cairn"},
                                     {"OU", "Cairn device identities"},
                                     {"CN", cn}})
    X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  return name;
}

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
  // What the new identity is bound to: the UDID of the identity it renews, or of the profile
  // whose one-time challenge it carries; none for the reusable challenge.
  std::string udid;
  std::string renewed;
  std::string one_time;
  if (envelope.type == pki::scep::MessageType::kRenewalReq) {
    // RFC 8894 §3.3.1.2: signed with the identity it renews. No challenge: that identity is the
    // proof, and only one Cairn issued to a device still enrolled with it will do.
    const std::string why = authority_.identity_problem(envelope.signer.get());
    if (why.empty()) {
      renewed = crypto::certificate_fingerprint(envelope.signer.get());
      if (auto owner = enrolled_owner(renewed)) udid = owner->value();
    }
    // Generic SCEP clients (certmonger) renew whatever they hold, with the challenge they were
    // given: renewing nothing Cairn manages, the request is then judged like a PKCSReq.
    if (udid.empty()) {
      renewed.clear();
      if (!request.challenge_password)
        return refuse(pki::scep::FailInfo::kBadCertId,
                      why.empty() ? "the identity to renew is not the one of an enrolled device"
                                  : "the renewal is not signed with a valid identity from "
                                    "Cairn's CA: " +
                                        why);
    }
  }
  if (renewed.empty()) {
    if (!request.challenge_password)
      return refuse(pki::scep::FailInfo::kBadRequest, "the request has no challenge password");
    // The deployment's reusable challenge, or a profile's one-time challenge (recorded by hash).
    if (!same_secret(*request.challenge_password, authority_.scep_challenge)) {
      one_time = crypto::sha256_hex(*request.challenge_password);
      const auto challenge =
          writer_.find_caught_up([&] { return reader_.scep_challenge(one_time); });
      if (auto problem = one_time_challenge_problem(challenge); !problem.empty())
        return refuse(pki::scep::FailInfo::kBadRequest, problem);
      udid = challenge->udid;
    }
  }
  auto issued =
      pki::issue_for_public_key(authority_.ca, device_subject(request.csr.get()).get(),
                                X509_REQ_get0_pubkey(request.csr.get()), authority_.identity_days);
  // The answer is built before anything is recorded: what cannot be delivered is not issued.
  Reply reply{200,
              pki::scep::success_reply(envelope, issued.get(), {authority_.ca.cert.get()},
                                       authority_.scep_ra),
              std::string(kPkiMessage)};
  auto p = certificate_issued(issued.get(), renewed.empty() ? "scep" : "scep-renewal",
                              envelope.transaction_id);
  p.scep_challenge = one_time;
  const events::IdentityBound bound{p.fingerprint, p.not_after,
                                    renewed.empty() ? "profile" : "renewal", renewed};
  logging::info("SCEP certificate issued", {{"subject", p.subject},
                                            {"fingerprint", p.fingerprint},
                                            {"method", p.method},
                                            {"udid", udid},
                                            {"transaction", p.transaction_id},
                                            {"remote", remote_address}});
  // Recorded before the device can use it: an identity Cairn cannot account for never exists.
  // A one-time challenge is used up in log order: of two requests racing on two nodes, only the
  // first recorded gets its certificate (and only then is it bound to the profile's UDID).
  std::vector<events::Event> batch{writer_.make("", "scep", std::move(p))};
  if (one_time.empty()) {
    if (udid.empty()) {
      writer_.append(std::move(batch));
      return reply;
    }
    batch.push_back(writer_.make(udid, "scep", bound));
    writer_.append_and_wait_applied(std::move(batch));  // the device may use it right away
    return reply;
  }
  writer_.append_and_wait_applied(std::move(batch));
  if (reader_.scep_challenge(one_time)->used_by_fingerprint != bound.fingerprint)
    return refuse(pki::scep::FailInfo::kBadRequest, "the challenge password was already used");
  if (!udid.empty()) writer_.append_and_wait_applied({writer_.make(udid, "scep", bound)});
  return reply;
}

std::string ScepService::one_time_challenge_problem(
    const std::optional<projector::ScepChallengeRecord>& challenge) {
  if (!challenge) return "wrong challenge password";
  if (!challenge->used_by_fingerprint.empty()) return "the challenge password was already used";
  const auto expires = parse_rfc3339(challenge->expires_at);
  if (!expires || *expires <= std::chrono::system_clock::now())
    return "the challenge password expired";
  return {};
}

std::optional<DeviceId> ScepService::enrolled_owner(const std::string& fingerprint) const {
  return writer_.find_caught_up([&]() -> std::optional<DeviceId> {
    for (const auto& owner : reader_.devices_for_certificate(fingerprint)) {
      const auto device = reader_.device(owner);
      if (!device || device->state == projector::EnrollmentState::kCheckedOut) continue;
      if (device->certificate_fingerprint == fingerprint ||
          reader_.has_pending_identity(owner, fingerprint))
        return owner;
    }
    return std::nullopt;
  });
}

void ScepService::refused(const std::string& reason, const std::string& fail_info,
                          const std::string& transaction_id, const std::string& remote_address) {
  const auto repeated = writer_.admit_refusal(remote_address);
  if (!repeated) return;  // counted: this source was recorded moments ago
  // The transaction ID and reasons quoting the request are the sender's: capped.
  const std::string capped_reason(utf8_prefix(reason, ingest::kMaxRecordedField));
  const std::string transaction(utf8_prefix(transaction_id, ingest::kMaxRecordedField));
  logging::warn("SCEP request refused", {{"reason", capped_reason},
                                         {"fail_info", fail_info},
                                         {"transaction", transaction},
                                         {"remote", remote_address},
                                         {"repeated", std::to_string(*repeated)}});
  writer_.append({writer_.make("", "scep",
                               events::EnrollmentRefused{"scep", capped_reason, fail_info,
                                                         transaction, remote_address, *repeated})});
}

}  // namespace cairn::enrollment
