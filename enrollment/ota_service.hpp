// Over-the-air enrollment (the flow in the seeds): an admin creates an invitation, a one-time
// token that expires; the user opens its link on the device; phase 1 answers with a signed
// Profile Service payload; in phase 2 the device POSTs its attributes (UDID, PRODUCT, ...) and
// the token, CMS-signed by its device certificate; Cairn checks the signature (and its chain to
// Apple's device CA when one is configured), uses the token up, and answers with the enrollment
// profile. Every step is an event (EnrollmentInvited, EnrollmentRequested, ProfileIssued), every
// refusal an EnrollmentRefused event with the reason.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/certificate.hpp"
#include "enrollment/profile_service.hpp"
#include "enrollment/reply.hpp"
#include "schemas/events.hpp"

namespace cairn::enrollment {

struct Invitation {
  std::string token;  // the secret: only its SHA-256 is recorded
  std::string url;    // what the user opens on the device
  std::string expires_at;
};

// Phase 2's body as the device sends it: its attributes, a plist CMS-signed by its device
// certificate. Checks the signature (and the signer's chain to `device_ca` when given), that the
// CHALLENGE is `token` and that the UDID is a valid identifier; BadRequest otherwise. The
// result's invitation is left to the caller.
events::EnrollmentRequested read_device_attributes(std::string_view signed_attributes,
                                                   const crypto::TrustStore* device_ca,
                                                   const std::string& token);

class OtaService {
 public:
  // `device_ca`: the CA that must have issued the certificate signing phase 2 (Apple's device
  // CA in production); null accepts any signer, and the one-time token alone gates enrollment.
  OtaService(ProfileService& profiles, const projector::ProjectionReader& reader,
             ingest::EventWriter& writer, std::shared_ptr<const crypto::TrustStore> device_ca,
             std::string public_url);

  // `host_url`: https://<Host> of the request, used when no public URL is configured.
  Invitation invite(std::chrono::seconds ttl, const std::string& note, const std::string& actor,
                    const std::string& host_url);
  // Phase 1 (GET /enroll/<token>) and phase 2 (POST /enroll/<token>). Throw ClientError (404
  // unknown token, 410 expired or used, 400 bad attributes or signature) after recording it.
  Reply profile_service(const std::string& token, const std::string& remote,
                        const std::string& host_url);
  Reply enroll(const std::string& token, std::string_view signed_attributes,
               const std::string& remote, const std::string& host_url);

 private:
  // The invitation behind a token, if it can still be used; else records and throws why.
  void require_usable(const std::string& token_sha256, const std::string& remote);
  [[noreturn]] void refuse(int status, const std::string& reason, const std::string& remote);
  std::string base_url(const std::string& host_url) const;

  ProfileService& profiles_;
  const projector::ProjectionReader& reader_;
  ingest::EventWriter& writer_;
  std::shared_ptr<const crypto::TrustStore> device_ca_;
  std::string public_url_;
};

}  // namespace cairn::enrollment
