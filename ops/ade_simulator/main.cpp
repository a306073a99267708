// cairn-ade-sim: the ADE simulator as a program, to try Automated Device Enrollment and to load
// test it without Apple. The ADE service is on the TLS port; a plain HTTP control port (loopback
// by default) issues the token file and makes devices, changes and failures. See README.md.
#include <httplib.h>

#include <cstdio>
#include <string>

#include "common/files.hpp"
#include "common/json_writer.hpp"
#include "ops/ade_simulator/ade_simulator.hpp"
#include "ops/simulator_program.hpp"

namespace {

using cairn::ade_sim::AdeSimulator;
namespace sim_program = cairn::sim_program;

const char* kUsage =
    "usage: cairn-ade-sim --cert F --key F [--listen HOST:PORT (127.0.0.1:2199)]\n"
    "                     [--control HOST:PORT (127.0.0.1:2200)]\n"
    "  --cert/--key    the simulator's TLS certificate and clear private key, PEM\n"
    "control API (plain HTTP):\n"
    "  POST /token                   body: the token certificate (PEM) -> the token file\n"
    "  POST /devices?count=N&prefix=P[&family=iPhone&model=M]   new devices -> their serials\n"
    "  POST /sessions/end            every session ends (401 until a new one)\n"
    "  POST /cursors/expire          every cursor answers EXPIRED_CURSOR\n"
    "  POST /throttle?calls=N&retry_after=S   the next N calls are answered 429\n"
    "  GET  /cloud-configuration?serial=S     the profile a device at first boot gets\n"
    "  GET  /stats\n";

int number(const httplib::Request& req, const char* name, int fallback) {
  return req.has_param(name) ? std::stoi(req.get_param_value(name)) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  const auto options =
      sim_program::parse(argc, argv, {{"listen", "127.0.0.1:2199"}, {"control", "127.0.0.1:2200"}},
                         kUsage, {"cert", "key"}, status);
  if (!options) return status;
  auto o = *options;
  const sigset_t stop = sim_program::block_stop_signals();  // before any thread starts
  try {
    const auto [host, port] = sim_program::host_port(o["listen"]);
    AdeSimulator sim({host, port, cairn::read_file(o["cert"]), cairn::read_file(o["key"])});
    httplib::Server control;
    control.Post("/token", [&](const httplib::Request& req, httplib::Response& res) {
      res.set_content(sim.token_file(req.body), "application/pkcs7-mime");
    });
    control.Post("/devices", [&](const httplib::Request& req, httplib::Response& res) {
      const auto serials =
          sim.add_devices(static_cast<size_t>(number(req, "count", 1)),
                          req.has_param("prefix") ? req.get_param_value("prefix") : "SIM",
                          req.has_param("family") ? req.get_param_value("family") : "iPhone",
                          req.has_param("model") ? req.get_param_value("model") : "iPhone 15");
      std::string out;
      for (const auto& s : serials) out += s + "\n";
      res.set_content(out, "text/plain");
    });
    control.Post("/sessions/end", [&](const httplib::Request&, httplib::Response& res) {
      sim.end_sessions();
      res.status = 204;
    });
    control.Post("/cursors/expire", [&](const httplib::Request&, httplib::Response& res) {
      sim.expire_cursors();
      res.status = 204;
    });
    control.Post("/throttle", [&](const httplib::Request& req, httplib::Response& res) {
      sim.throttle_calls(number(req, "calls", 1), number(req, "retry_after", 1));
      res.status = 204;
    });
    control.Get("/cloud-configuration", [&](const httplib::Request& req, httplib::Response& res) {
      const auto config = sim.cloud_configuration(req.get_param_value("serial"));
      if (!config) {
        res.status = 404;
        return;
      }
      res.set_content(config->profile_json, "application/json");
    });
    control.Get("/stats", [&](const httplib::Request&, httplib::Response& res) {
      const auto c = sim.counts();
      cairn::JsonWriter j;
      j.begin_object()
          .field("sessions", c.sessions)
          .field("oauth_refused", c.oauth_refused)
          .field("fetch_calls", c.fetch_calls)
          .field("sync_calls", c.sync_calls)
          .field("profiles_defined", c.profiles_defined)
          .field("assigned", c.assigned)
          .field("removed", c.removed)
          .field("refused_calls", c.refused_calls)
          .end_object();
      res.set_content(j.str() + "\n", "application/json");
    });
    sim_program::serve_until_stopped(control, o["control"], stop,
                                     "cairn-ade-sim: ADE service on " + sim.url());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn-ade-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
