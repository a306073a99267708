// Certificate expiry, before it bites: the server's TLS chain, Cairn's CA, the SCEP RA, push
// certificates and the device identities Cairn issued, with days left (GET /v1/certificates and
// /metrics). Apple's warning in the seeds: if any certificate in the TLS trust chain expires,
// devices cannot connect and the fleet is lost; an expired device identity loses that device.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/metrics.hpp"
#include "enrollment/authority.hpp"
#include "projector/queries.hpp"

namespace cairn::enrollment {

struct CertificateExpiry {
  std::string role;  // "tls", "tls-chain", "ca", "scep-ra", "push", "device-identity"
  std::string subject;
  std::string not_after;  // RFC 3339
  int days_left = 0;      // negative once expired
};

class ExpiryReport {
 public:
  ExpiryReport(const Authority& authority, const projector::ProjectionReader& reader)
      : authority_(authority), reader_(reader) {}

  std::vector<CertificateExpiry> server_certificates() const;  // tls, tls-chain, ca, scep-ra
  std::vector<CertificateExpiry> push_certificates() const;
  // Identities Cairn issued expiring within `days` (not yet expired), soonest first.
  std::vector<CertificateExpiry> device_identities_expiring(int days, size_t limit) const;

  // The admin API's answer: everything above, device identities within `days`.
  std::string json(int days) const;
  // Scrape-time gauges: cairn_certificate_expiry_timestamp_seconds{role,subject} for the server's
  // certificates, cairn_device_identities_expiring{within_days="30"}.
  void register_gauges(Metrics& metrics) const;

 private:
  const Authority& authority_;
  const projector::ProjectionReader& reader_;
};

}  // namespace cairn::enrollment
