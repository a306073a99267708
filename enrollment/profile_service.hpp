// Hands out signed enrollment profiles (GET /v1/enrollment/profile): the admin chooses the
// identity kind and the MDM payload's options; the server fills in its URLs, the push topic from
// the uploaded push certificates, what devices must trust, and the SCEP challenge (or a fresh
// PKCS#12 identity), then records ProfileIssued (and CertificateIssued for a PKCS#12).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "enrollment/authority.hpp"
#include "enrollment/profile.hpp"
#include "ingest/event_writer.hpp"
#include "projector/queries.hpp"

namespace cairn::enrollment {

struct ProfileRequest {
  std::string identity = "scep";  // or "pkcs12"
  std::string topic;              // required when several push certificates are uploaded
  int64_t access_rights = 8191;
  bool sign_message = false;
  bool use_development_apns = false;
  std::string device_name = "Cairn device";  // the PKCS#12 certificate's common name
  // SCEP: the deployment's reusable challenge (one profile for many devices, e.g. on a web page;
  // anyone holding it can get identities) instead of a fresh one-time challenge.
  bool reusable_challenge = false;
  // The device this profile is for (renewing an enrolled device's identity with InstallProfile,
  // or OTA with a verified device certificate): its identity is bound to this UDID, so it may
  // replace the device's current one. Empty: any device.
  std::string udid;
  // https://<the Host the admin asked>: the server's URL in the profile when no public URL is
  // configured (right when admins and devices reach the server by the same name).
  std::string host_url;
};

struct IssuedProfile {
  std::string signed_der;
  std::string uuid;
};

class ProfileService {
 public:
  // `public_url`: how devices reach this deployment, https://host[:port] (no path); empty: the
  // request's host_url.
  ProfileService(const Authority& authority, std::string public_url,
                 const projector::ProjectionReader& reader, ingest::EventWriter& writer)
      : authority_(authority),
        public_url_(std::move(public_url)),
        reader_(reader),
        writer_(writer) {}

  // Throws BadRequest for invalid options, Conflict when no push certificate fits.
  IssuedProfile issue(const ProfileRequest& request, const std::string& actor);

  // Any profile signed as enrollment profiles are (the server's TLS identity), DER.
  std::string sign(const Plist& profile) const;

  // What the profile will contain; for a PKCS#12 identity, `issued` receives its certificate.
  ProfileSpec spec_for(const ProfileRequest& request, crypto::X509Ptr* issued) const;

 private:
  std::string topic_for(const std::string& requested) const;
  // One-time SCEP challenges work this long after the profile is issued.
  static constexpr std::chrono::days kOneTimeChallengeLifetime{30};

  const Authority& authority_;
  std::string public_url_;
  const projector::ProjectionReader& reader_;
  ingest::EventWriter& writer_;
};

}  // namespace cairn::enrollment
