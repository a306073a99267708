// The enrollment of a device at first boot (POST /ade/enroll, the URL in Cairn's ADE profiles):
// its signed MachineInfo is checked (machine_info.hpp), its serial number must be one Apple
// Business Manager assigned to one of Cairn's ADE tokens and not released since, and it is given
// an enrollment profile (a SCEP identity, bound to its UDID when its signature chained to the
// configured device CA) and an AdeEnrollmentRequested event links the serial number to the UDID.
// Anything else is refused with a 4xx naming why and an EnrollmentRefused event (stage "ade").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crypto/certificate.hpp"
#include "enrollment/profile_service.hpp"
#include "enrollment/reply.hpp"
#include "ingest/event_writer.hpp"
#include "projector/ade.hpp"

namespace cairn::ade {

class EnrollmentService {
 public:
  // `device_ca`: the CA that must have issued MachineInfo's signer (Apple's iPhone Device CA
  // chain, validity not checked); null accepts any signer, and then the serial number alone (a
  // device Apple assigned to this server) gates the enrollment.
  EnrollmentService(enrollment::ProfileService& profiles, const store::Reader& projection,
                    ingest::EventWriter& writer,
                    std::shared_ptr<const crypto::TrustStore> device_ca)
      : profiles_(profiles),
        reader_(projection),
        writer_(writer),
        device_ca_(std::move(device_ca)) {}

  enrollment::Reply enroll(std::string_view machine_info, const std::string& remote,
                           const std::string& host_url);

 private:
  enrollment::ProfileService& profiles_;
  projector::AdeReader reader_;
  ingest::EventWriter& writer_;
  std::shared_ptr<const crypto::TrustStore> device_ca_;
};

}  // namespace cairn::ade
