// The ADE simulator's test PKI for end-to-end tests: its TLS identity (and the CA a node trusts it
// with) and a stand-in for Apple's iPhone Device CA, in files, and a node's options to use them.
#pragma once

#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "ops/ade_simulator/ade_simulator.hpp"
#include "pki/issuer.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {

struct AdePki {
  explicit AdePki(const TempDir& dir)
      : files(dir.path()),
        ca(pki::make_ca("ADE simulator test CA", 30)),
        device_ca(pki::make_ca("Test iPhone Device CA", 30, nullptr, pki::CaKey::kRsa2048)) {
    const auto server =
        pki::issue_certificate(ca, "127.0.0.1", pki::CertUsage::kServer, {"127.0.0.1"}, 30);
    write_file(dir / "sim.crt", crypto::certificate_pem(server.cert.get()), false);
    write_file(dir / "sim.key", pki::private_key_pem(server.key.get(), nullptr), true);
    write_file(dir / "sim-ca.crt", crypto::certificate_pem(ca.cert.get()), false);
    write_file(dir / "device-ca.crt", crypto::certificate_pem(device_ca.cert.get()), false);
  }
  ade_sim::Options simulator_options() const {
    return {"127.0.0.1", 0, read_file(files + "/sim.crt"), read_file(files + "/sim.key")};
  }
  // A node syncing with `sim` every 200 ms, trusting the device CA for MachineInfo.
  TestNodeOptions node_options(const ade_sim::AdeSimulator& sim) const {
    TestNodeOptions o;
    o.ade_url = sim.url();
    o.ade_ca_file = files + "/sim-ca.crt";
    o.ade_device_ca_file = files + "/device-ca.crt";
    o.ade_sync_interval = std::chrono::milliseconds(200);
    return o;
  }

  std::string files;
  pki::Identity ca;
  pki::Identity device_ca;
};

}  // namespace cairn::testing
