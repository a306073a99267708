#include "enrollment/expiry_report.hpp"

#include "common/clock.hpp"
#include "common/json_writer.hpp"
#include "crypto/certificate.hpp"

namespace cairn::enrollment {
namespace {

using std::chrono::system_clock;

// Whole days from now to an RFC 3339 time, rounded down (negative once past).
int days_until(const std::string& rfc3339) {
  const auto at = parse_rfc3339(rfc3339);
  if (!at) return 0;
  return static_cast<int>(std::chrono::floor<std::chrono::days>(*at - system_clock::now()).count());
}

CertificateExpiry expiry_of(std::string role, X509* cert) {
  const std::string not_after = crypto::certificate_not_after(cert);
  return {std::move(role), crypto::certificate_subject(cert), not_after, days_until(not_after)};
}

constexpr int kMetricWindowDays = 30;
constexpr size_t kMetricCountLimit = 1'000'000;

}  // namespace

std::vector<CertificateExpiry> ExpiryReport::server_certificates() const {
  std::vector<CertificateExpiry> out{expiry_of("tls", authority_.server.cert.get())};
  for (const auto& c : authority_.server_chain) out.push_back(expiry_of("tls-chain", c.get()));
  out.push_back(expiry_of("ca", authority_.ca.cert.get()));
  out.push_back(expiry_of("scep-ra", authority_.scep_ra.cert.get()));
  return out;
}

std::vector<CertificateExpiry> ExpiryReport::push_certificates() const {
  std::vector<CertificateExpiry> out;
  for (const auto& c : reader_.push_certificates())
    out.push_back({"push", c.topic, c.not_after, days_until(c.not_after)});
  return out;
}

std::vector<CertificateExpiry> ExpiryReport::device_identities_expiring(int days,
                                                                        size_t limit) const {
  const auto now = system_clock::now();
  std::vector<CertificateExpiry> out;
  for (const auto& r : reader_.identities_expiring(
           format_rfc3339(now), format_rfc3339(now + std::chrono::days(days)), limit))
    out.push_back({"device-identity", r.subject, r.not_after, days_until(r.not_after)});
  return out;
}

std::string ExpiryReport::json(int days) const {
  JsonWriter j;
  j.begin_object().field("within_days", days);
  auto list = [&j](const char* name, const std::vector<CertificateExpiry>& certs) {
    j.key(name).begin_array();
    for (const auto& c : certs)
      j.begin_object()
          .field("role", c.role)
          .field("subject", c.subject)
          .field("not_after", c.not_after)
          .field("days_left", c.days_left)
          .end_object();
    j.end_array();
  };
  list("server", server_certificates());
  list("push", push_certificates());
  list("device_identities_expiring", device_identities_expiring(days, 1000));
  j.end_object();
  return j.str();
}

void ExpiryReport::register_gauges(Metrics& metrics) const {
  metrics.gauge(
      "cairn_certificate_expiry_timestamp_seconds",
      "When each of the server's certificates expires (TLS chain, CA, SCEP RA)", [this] {
        std::vector<Metrics::Sample> samples;
        for (const auto& c : server_certificates())
          if (const auto at = parse_rfc3339(c.not_after))
            samples.push_back({{{"role", c.role}, {"subject", c.subject}},
                               std::chrono::duration<double>(at->time_since_epoch()).count()});
        return samples;
      });
  metrics.gauge(
      "cairn_device_identities_expiring",
      "Device identities Cairn issued that expire within the window (not yet expired)", [this] {
        return std::vector<Metrics::Sample>{
            {{{"within_days", std::to_string(kMetricWindowDays)}},
             static_cast<double>(
                 device_identities_expiring(kMetricWindowDays, kMetricCountLimit).size())}};
      });
}

}  // namespace cairn::enrollment
