// cairn-apns-sim: the APNs simulator as a program, for load tests of an MDM server without Apple.
// Pushes go to the HTTP/2 TLS port; a plain HTTP control port (loopback by default) sets
// failures and reads what was pushed. See ops/apns_simulator/README.md.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/files.hpp"
#include "common/json_writer.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "ops/simulator_program.hpp"

namespace {

using cairn::apns_sim::ApnsSimulator;
namespace sim_program = cairn::sim_program;
using cairn::apns_sim::Failure;

const char* kUsage =
    "usage: cairn-apns-sim --cert F --key F --client-ca F [--listen HOST:PORT (127.0.0.1:2197)]\n"
    "                      [--control HOST:PORT (127.0.0.1:2198)]\n"
    "  --cert/--key    the simulator's TLS certificate (chain) and clear private key, PEM\n"
    "  --client-ca     CA file that push certificates must chain to (Apple's, or your test CA)\n"
    "control API (plain HTTP):\n"
    "  GET    /stats                          {\"pushes\":N,\"accepted\":N,\"connections\":N}\n"
    "  GET    /pushes                         every recorded push, one JSON object per line\n"
    "  PUT    /fail/token/HEX?status=410&reason=Unregistered   fail every push to a token\n"
    "  PUT    /fail/share?share=0.1&status=500&reason=InternalServerError\n"
    "  DELETE /fail                           back to answering 200\n";

Failure failure_from(const httplib::Request& req, const char* default_reason) {
  return Failure{req.has_param("status") ? std::stoi(req.get_param_value("status")) : 500,
                 req.has_param("reason") ? req.get_param_value("reason") : default_reason};
}

std::string push_json(const cairn::apns_sim::RecordedPush& p) {
  cairn::JsonWriter j;
  j.begin_object()
      .field("token", p.token_hex)
      .field("topic", p.headers.contains("apns-topic") ? p.headers.at("apns-topic") : "")
      .field("client_topic", p.client_topic)
      .field("status", p.status)
      .field_if("reason", p.reason)
      .field("apns_id", p.apns_id)
      .field("body", p.body)
      .key("headers")
      .begin_object();
  for (const auto& [name, value] : p.headers) j.field(name, value);
  j.end_object().end_object();
  return j.str();
}

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  const auto options =
      sim_program::parse(argc, argv, {{"listen", "127.0.0.1:2197"}, {"control", "127.0.0.1:2198"}},
                         kUsage, {"cert", "key", "client-ca"}, status);
  if (!options) return status;
  auto o = *options;
  const sigset_t stop = sim_program::block_stop_signals();  // before any thread starts
  try {
    const auto [host, port] = sim_program::host_port(o["listen"]);
    ApnsSimulator sim(
        {host, port, cairn::read_file(o["cert"]), cairn::read_file(o["key"]), o["client-ca"]});
    httplib::Server control;
    control.Get("/stats", [&](const httplib::Request&, httplib::Response& res) {
      size_t accepted = 0;
      const auto pushes = sim.pushes();
      for (const auto& p : pushes) accepted += p.status == 200;
      cairn::JsonWriter j;
      j.begin_object()
          .field("pushes", static_cast<int64_t>(pushes.size()))
          .field("accepted", static_cast<int64_t>(accepted))
          .field("connections", static_cast<int64_t>(sim.connections_accepted()))
          .end_object();
      res.set_content(j.str() + "\n", "application/json");
    });
    control.Get("/pushes", [&](const httplib::Request&, httplib::Response& res) {
      std::string out;
      for (const auto& p : sim.pushes()) out += push_json(p) + "\n";
      res.set_content(out, "application/x-ndjson");
    });
    control.Put(R"(/fail/token/([0-9a-fA-F]+))",
                [&](const httplib::Request& req, httplib::Response& res) {
                  sim.fail_token(req.matches[1], failure_from(req, "Unregistered"));
                  res.status = 204;
                });
    control.Put("/fail/share", [&](const httplib::Request& req, httplib::Response& res) {
      sim.fail_share(std::stod(req.get_param_value("share")),
                     failure_from(req, "InternalServerError"));
      res.status = 204;
    });
    control.Delete("/fail", [&](const httplib::Request&, httplib::Response& res) {
      sim.clear_failures();
      res.status = 204;
    });
    sim_program::serve_until_stopped(
        control, o["control"], stop,
        "cairn-apns-sim: pushes on https://" + host + ":" + std::to_string(sim.port()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn-apns-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
