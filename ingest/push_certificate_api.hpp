// The admin API's push certificates: upload (PEM or PKCS#12; the private key sealed before it is
// recorded) and list with their expiry.
#pragma once

#include <string>
#include <string_view>

#include "crypto/secret_box.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/api_response.hpp"
#include "ingest/event_writer.hpp"
#include "pki/push_certificate.hpp"
#include "projector/queries.hpp"

namespace cairn::ingest {

class PushCertificateApi {
 public:
  PushCertificateApi(EventWriter& writer, const projector::ProjectionReader& reader,
                     const crypto::SecretBox& secrets)
      : writer_(writer), reader_(reader), secrets_(secrets) {}

  // PUT /v1/pushcert (NanoMDM): the certificate and its clear private key, PEM, in one body.
  ApiResponse upload(std::string_view pem_bundle, const Principal& actor);
  // The same from a PKCS#12 file and its password (never logged or recorded).
  ApiResponse upload_pkcs12(std::string_view der, const std::string& password,
                            const Principal& actor);
  ApiResponse list() const;  // topics, expiry, a warning from 30 days before

 private:
  ApiResponse record(const pki::PushCertificate& cert, const Principal& actor);

  EventWriter& writer_;
  const projector::ProjectionReader& reader_;
  const crypto::SecretBox& secrets_;
};

}  // namespace cairn::ingest
