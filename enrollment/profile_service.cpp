#include "enrollment/profile_service.hpp"

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"

namespace cairn::enrollment {

std::string ProfileService::topic_for(const std::string& requested) const {
  const auto certificates = reader_.push_certificates();
  if (!requested.empty()) {
    for (const auto& c : certificates)
      if (c.topic == requested) return requested;
    throw ClientError(
        409, "no push certificate for topic " + requested + " (upload it first: PUT /v1/pushcert)");
  }
  if (certificates.empty())
    throw ClientError(409,
                      "no push certificate uploaded: devices could not be woken "
                      "(upload one first: PUT /v1/pushcert)");
  if (certificates.size() > 1)
    throw BadRequest("several push certificates are uploaded: choose one with topic=");
  return certificates.front().topic;
}

ProfileSpec ProfileService::spec_for(const ProfileRequest& request, crypto::X509Ptr* issued) const {
  ProfileSpec spec;
  const std::string base = public_url_.empty() ? request.host_url : public_url_;
  spec.server_url = base + "/mdm";
  // The profile names itself in its CheckInURL: the device's Authenticate then says which
  // profile (and so which AccessRights) it was enrolled with.
  spec.uuid = crypto::uuid_v4();
  spec.check_in_url = base + "/checkin?profile=" + spec.uuid;
  spec.topic = topic_for(request.topic);
  spec.access_rights = request.access_rights;
  spec.sign_message = request.sign_message;
  spec.use_development_apns = request.use_development_apns;
  spec.trust_certificates_der = authority_.trust_certificates_der();
  if (request.identity == "scep") {
    ScepIdentity scep{base + "/scep", request.reusable_challenge
                                          ? authority_.scep_challenge
                                          : hex_encode(crypto::random_bytes(16))};
    scep.ca_fingerprint = authority_.scep_ca_fingerprint();
    spec.identity = std::move(scep);
  } else if (request.identity == "pkcs12") {
    // The server makes the key: it exists outside the device for as long as this profile does.
    // SCEP avoids that; PKCS#12 is for devices or networks that cannot reach /scep.
    auto identity = pki::issue_certificate(authority_.ca, request.device_name,
                                           pki::CertUsage::kClient, {}, authority_.identity_days);
    const std::string password = hex_encode(crypto::random_bytes(16));
    spec.identity = Pkcs12Identity{
        pki::pkcs12_der(identity, {authority_.ca.cert.get()}, password, request.device_name),
        password};
    if (issued) *issued = std::move(identity.cert);
  } else {
    throw BadRequest("identity must be scep or pkcs12, not " + request.identity);
  }
  if (!request.udid.empty() && request.identity == "scep" && request.reusable_challenge)
    throw BadRequest(
        "udid and reusable_challenge exclude each other: a reusable challenge is for any device");
  validate(spec);
  return spec;
}

std::string ProfileService::sign(const Plist& profile) const {
  return sign_profile(profile, authority_.server, authority_.server_chain_view());
}

IssuedProfile ProfileService::issue(const ProfileRequest& request, const std::string& actor) {
  crypto::X509Ptr issued;
  const ProfileSpec spec = spec_for(request, &issued);
  const Plist profile = build_profile(spec);
  IssuedProfile out{sign(profile), *profile.string("PayloadUUID")};
  std::vector<events::Event> batch;
  std::string fingerprint;
  if (issued) {  // accounted for like any identity Cairn issues
    auto certificate = certificate_issued(issued.get(), "pkcs12");
    fingerprint = certificate.fingerprint;
    if (!request.udid.empty())
      batch.push_back(
          writer_.make(request.udid, actor,
                       events::IdentityBound{fingerprint, certificate.not_after, "profile", ""}));
    batch.push_back(writer_.make("", actor, std::move(certificate)));
  }
  events::ProfileIssued issued_event{out.uuid,
                                     request.identity,
                                     spec.topic,
                                     static_cast<int>(spec.access_rights),
                                     fingerprint,
                                     "",
                                     "",
                                     request.udid,
                                     spec.use_development_apns};
  if (const auto* scep = std::get_if<ScepIdentity>(&spec.identity);
      scep && !request.reusable_challenge) {
    issued_event.scep_challenge = crypto::sha256_hex(scep->challenge);
    issued_event.scep_challenge_expires_at =
        format_rfc3339(std::chrono::system_clock::now() + kOneTimeChallengeLifetime);
  }
  batch.push_back(writer_.make("", actor, std::move(issued_event)));
  // Applied before the profile is handed out: its one-time challenge must be known when the
  // device asks for its identity a moment later.
  writer_.append_and_wait_applied(batch);
  logging::info("enrollment profile issued", {{"uuid", out.uuid},
                                              {"udid", request.udid},
                                              {"identity", request.identity},
                                              {"topic", spec.topic},
                                              {"actor", actor}});
  return out;
}

}  // namespace cairn::enrollment
