#include "ingest/push_certificate_api.hpp"

#include "common/json_writer.hpp"
#include "pki/issuer.hpp"

namespace cairn::ingest {

ApiResponse PushCertificateApi::upload(std::string_view pem_bundle, const Principal& actor) {
  return record(pki::parse_push_certificate(pem_bundle), actor);
}

ApiResponse PushCertificateApi::upload_pkcs12(std::string_view der, const std::string& password,
                                              const Principal& actor) {
  return record(pki::parse_push_certificate_pkcs12(der, password), actor);
}

ApiResponse PushCertificateApi::record(const pki::PushCertificate& cert, const Principal& actor) {
  events::PushCertificateUploaded p;
  p.topic = cert.topic;
  p.certificate_pem = cert.certificate_pem;
  p.private_key_sealed = secrets_.seal(pki::private_key_pem(cert.key.get(), nullptr),
                                       pki::push_certificate_sealing_context(cert.topic));
  p.not_after = cert.not_after;
  writer_.append_and_wait_applied({writer_.make("", actor.name, std::move(p))});
  JsonWriter j;
  j.begin_object().field("topic", cert.topic).field("not_after", cert.not_after).end_object();
  return {200, j.str()};
}

ApiResponse PushCertificateApi::list() const {
  JsonWriter j;
  j.begin_object().key("push_certificates").begin_array();
  for (const auto& c : reader_.push_certificates()) {
    const int days = pki::days_until_expiry(c.certificate_pem);
    j.begin_object()
        .field("topic", c.topic)
        .field("not_after", c.not_after)
        .field("days_left", days)
        .field("expiring_soon", days < pki::kPushCertificateWarningDays)
        .field("uploaded_at", c.uploaded_at)
        .field("uploaded_by", c.uploaded_by)
        .end_object();
  }
  j.end_array().end_object();
  return {200, j.str()};
}

}  // namespace cairn::ingest
