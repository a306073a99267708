// The APNs simulator for end-to-end tests: its own CA (which issues the simulator's server
// certificate and the push certificates), listening on a free loopback port, and the options
// that point a node's dispatcher at it.
#pragma once

#include <fstream>
#include <memory>
#include <string>

#include "crypto/certificate.hpp"
#include "dispatcher/apns_client.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "pki/issuer.hpp"

namespace cairn::testing {

class TestApns {
 public:
  // Writes the CA certificate to `ca_file` (the node trusts the simulator through it).
  explicit TestApns(std::string ca_file)
      : ca_file_(std::move(ca_file)),
        ca_(pki::make_ca("Test APNs CA", 400)),
        server_(
            pki::issue_certificate(ca_, "127.0.0.1", pki::CertUsage::kServer, {"127.0.0.1"}, 400)) {
    std::ofstream(ca_file_) << crypto::certificate_pem(ca_.cert.get());
    sim_ = std::make_unique<apns_sim::ApnsSimulator>(
        apns_sim::Options{"127.0.0.1", 0, crypto::certificate_pem(server_.cert.get()),
                          pki::private_key_pem(server_.key.get(), nullptr), ca_file_});
  }

  apns_sim::ApnsSimulator& sim() { return *sim_; }
  const pki::Identity& ca() const { return ca_; }

  // For TestNodeOptions::apns.
  dispatcher::ApnsClient::Options client_options() const {
    dispatcher::ApnsClient::Options o;
    o.endpoints.production = "https://127.0.0.1:" + std::to_string(sim_->port());
    o.endpoints.ca_file = ca_file_;
    return o;
  }
  // What PUT /v1/pushcert takes: a push certificate for `topic` and its clear key, PEM.
  std::string push_certificate_upload(const std::string& topic, int days) const {
    const auto cert = pki::issue_push_certificate(ca_, topic, days);
    return crypto::certificate_pem(cert.cert.get()) + pki::private_key_pem(cert.key.get(), nullptr);
  }

 private:
  std::string ca_file_;
  pki::Identity ca_, server_;
  std::unique_ptr<apns_sim::ApnsSimulator> sim_;
};

}  // namespace cairn::testing
