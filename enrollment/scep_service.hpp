// The SCEP server (RFC 8894) at /scep: what a device's SCEP payload talks to. GetCACaps,
// GetCACert (the RA and CA certificates), and PKIOperation over GET and POST: a PKCSReq with
// the right challengePassword gets a device identity from Cairn's CA (client authentication,
// Authority::identity_days), and a RenewalReq signed with an enrolled device's current identity
// gets its successor, bound to the same UDID; anything else gets a FAILURE CertRep naming why.
// Every issued certificate is a CertificateIssued event (and IdentityBound when it is for a known
// UDID), every refusal an EnrollmentRefused event, written before the answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "enrollment/authority.hpp"
#include "enrollment/reply.hpp"
#include "ingest/event_writer.hpp"
#include "projector/queries.hpp"

namespace cairn::enrollment {

class ScepService {
 public:
  ScepService(const Authority& authority, const projector::ProjectionReader& reader,
              ingest::EventWriter& writer)
      : authority_(authority), reader_(reader), writer_(writer) {}

  // One HTTP request: `operation` and `message` from the query; for POST, `body` is the message.
  // Throws BadRequest for an unknown operation or a message that is not SCEP at all (recorded
  // as EnrollmentRefused first), Unavailable when the log cannot record the outcome.
  Reply handle(std::string_view operation, std::string_view message, bool is_post,
               std::string_view body, const std::string& remote_address);

 private:
  Reply pki_operation(std::string_view der, const std::string& remote_address);
  // Why a one-time challenge cannot be used, or empty if it can.
  static std::string one_time_challenge_problem(
      const std::optional<projector::ScepChallengeRecord>& challenge);
  // The enrolled device whose current (or pending) identity has this fingerprint.
  std::optional<DeviceId> enrolled_owner(const std::string& fingerprint) const;
  void refused(const std::string& reason, const std::string& fail_info,
               const std::string& transaction_id, const std::string& remote_address);

  const Authority& authority_;
  const projector::ProjectionReader& reader_;
  ingest::EventWriter& writer_;
};

}  // namespace cairn::enrollment
