// The enrollment of a device at first boot (POST /ade/enroll, the URL in Cairn's ADE profiles):
// its signed MachineInfo is checked (machine_info.hpp), its serial number must be one Apple
// Business Manager assigned to one of Cairn's ADE tokens and not released since, and it is given
// an enrollment profile (a SCEP identity) and an AdeEnrollmentRequested event links the serial
// number to the UDID.
// Anything else is refused with a 4xx naming why and an EnrollmentRefused event (stage "ade").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ade/machine_info.hpp"
#include "enrollment/profile_service.hpp"
#include "enrollment/reply.hpp"
#include "ingest/event_writer.hpp"
#include "projector/ade.hpp"
#include "projector/queries.hpp"

namespace cairn::ade {

class EnrollmentService {
 public:
  // `device_ca`: the CA that must have issued MachineInfo's signer (DeviceCa); null refuses every
  // ADE enrollment (503, saying why): a serial number alone is printed on the box, and would get
  // anyone an identity and the organisation's profiles.
  EnrollmentService(enrollment::ProfileService& profiles, const store::Reader& projection,
                    ingest::EventWriter& writer, std::shared_ptr<const DeviceCa> device_ca)
      : profiles_(profiles),
        reader_(projection),
        devices_(projection),
        writer_(writer),
        device_ca_(std::move(device_ca)) {}

  enrollment::Reply enroll(std::string_view machine_info, const std::string& remote,
                           const std::string& host_url);

 private:
  // Whether the identity the device gets may take over its UDID's enrollment (as a renewal does):
  // when the UDID is not enrolled, or the serial number's last bound enrollment was this UDID (and
  // its device identity, pinned, is this one: the device erased and set up again). Anything else
  // naming an enrolled UDID gets an identity that cannot take it over, and its UDID is not
  // recorded as the serial number's (so a second try gains nothing).
  bool may_take_over(const MachineInfo& info, const projector::AdeDeviceRecord& device) const;

  enrollment::ProfileService& profiles_;
  projector::AdeReader reader_;
  projector::ProjectionReader devices_;
  ingest::EventWriter& writer_;
  std::shared_ptr<const DeviceCa> device_ca_;
};

}  // namespace cairn::ade
