#include "devsim/ade_first_boot.hpp"

#include <stdexcept>

#include "crypto/cms_signature.hpp"
#include "devsim/scep_client.hpp"
#include "pki/scep.hpp"
#include "plist/plist.hpp"

namespace cairn::devsim {
namespace {

std::string answer_of(const httplib::Result& r, const char* step) {
  if (!r) throw std::runtime_error(std::string(step) + ": " + httplib::to_string(r.error()));
  if (r->status != 200)
    throw std::runtime_error(std::string(step) + ": " + std::to_string(r->status) + " " + r->body);
  return r->body;
}

}  // namespace

pki::Identity first_boot(const Endpoint& endpoint, const std::string& enroll_path,
                         const SimulatedDevice& device, const pki::Identity& device_signer) {
  // No MDM identity yet. A connection per step, as Setup Assistant's steps are apart in time
  // (making the SCEP key takes long enough for a server to close an idle connection).
  auto client = [&] { return make_client(endpoint, nullptr); };
  const auto signed_info = crypto::sign_attached(device.machine_info(), device_signer.cert.get(),
                                                 device_signer.key.get(), {});
  const auto profile_der = answer_of(
      client()->Post(enroll_path, signed_info, "application/pkcs7-signature"), "MachineInfo");
  // A device checks the profile's signature against what it trusts; the simulation reads it.
  const Plist profile = Plist::parse(crypto::open_attached(profile_der, nullptr).content);
  std::optional<Plist> scep;
  if (const auto payloads = profile.array("PayloadContent"))
    for (size_t i = 0; i < payloads->size() && !scep; ++i)
      if (const auto payload = payloads->at(i);
          payload.string("PayloadType") == "com.apple.security.scep")
        scep = payload.dict("PayloadContent");
  if (!scep) throw std::runtime_error("the enrollment profile has no SCEP payload");
  const auto ra = pki::scep::read_certs_only(
      answer_of(client()->Get("/scep?operation=GetCACert"), "GetCACert"));
  if (ra.empty()) throw std::runtime_error("GetCACert: no certificate");
  ScepRequestOptions options;
  options.challenge = scep->string("Challenge").value_or("");
  ScepClient scep_client(ra.front().get(), options);
  auto outcome = scep_client.read_reply(
      answer_of(client()->Post("/scep?operation=PKIOperation", scep_client.pkcs_req(),
                               "application/x-pki-message"),
                "PKIOperation"));
  if (outcome.pki_status != pki::scep::kSuccess || !outcome.certificate)
    throw std::runtime_error("SCEP: " + outcome.pki_status + " " + outcome.fail_info + " " +
                             outcome.problem);
  return scep_client.identity(std::move(outcome.certificate));
}

}  // namespace cairn::devsim
