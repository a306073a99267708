// Command round trips against a running Cairn over keep-alive mTLS, from many concurrent devices.
//
// Each simulated device (one thread, one keep-alive TLS connection) enrolls (Authenticate,
// TokenUpdate) with its own certificate from the server's development CA, then, once the admin
// API has queued K commands for every device, drains its queue: Idle → command → Acknowledged →
// next command ... → empty 200. Every PUT is one round trip (a durable append + the projection
// wait + a queue read). Reports round trips/s, latency percentiles and the server's CPU time per
// request (from /proc/<pid>/stat). Issue 3 grows this into the full fleet simulator.
//
//   cairn_roundtrip_load --data-dir DIR --port N --server-pid PID --api-key KEY
//                        [--devices 64] [--commands 50]
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "crypto/secret_box.hpp"
#include "pki/dev_pki.hpp"
#include "plist/plist.hpp"
#include "tests/support/messages.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(content.substr(content.rfind(')') + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long peak_rss_kib_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  return 0;
}

std::string uuid_of(const httplib::Result& r) {
  if (!r || r->status != 200 || r->body.empty()) return "";
  return cairn::Plist::parse(r->body).string("CommandUUID").value_or("");
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed connection is an error to count, not a crash
  std::map<std::string, std::string> o;
  for (int i = 1; i + 1 < argc; i += 2) o[std::string(argv[i]).substr(2)] = argv[i + 1];
  const std::string data_dir = o.contains("data-dir") ? o["data-dir"] : "data";
  const int port = std::stoi(o["port"]);
  const int server_pid = std::stoi(o["server-pid"]);
  const int devices = o.contains("devices") ? std::stoi(o["devices"]) : 64;
  const int commands = o.contains("commands") ? std::stoi(o["commands"]) : 50;
  const std::string run = std::to_string(::getpid());

  const auto secrets = cairn::crypto::SecretBox::load_or_create(data_dir);
  const auto paths = cairn::pki::dev_pki_paths(data_dir);
  cairn::pki::Identity ca{cairn::pki::load_private_key(paths.ca_key(), secrets),
                          cairn::crypto::parse_certificate_pem(cairn::read_file(paths.ca_cert()))};

  struct Device {
    std::string udid;
    cairn::pki::Identity id;
    std::unique_ptr<httplib::SSLClient> client;
    std::vector<double> latencies_us;
    int errors = 0;
  };
  std::vector<Device> fleet(devices);
  std::string ids;
  for (int i = 0; i < devices; ++i) {
    auto& d = fleet[i];
    d.udid = "LOAD-" + run + "-" + std::to_string(i);
    d.id = cairn::pki::issue_certificate(ca, d.udid, cairn::pki::CertUsage::kClient, {}, 2);
    d.client =
        std::make_unique<httplib::SSLClient>("127.0.0.1", port, d.id.cert.get(), d.id.key.get());
    d.client->enable_server_certificate_verification(false);
    d.client->set_keep_alive(true);
    d.client->set_tcp_nodelay(true);
    ids += (i ? "," : "") + d.udid;
  }
  const auto enroll_start = Clock::now();
  {
    std::vector<std::thread> threads;
    for (auto& d : fleet)
      threads.emplace_back([&d] {
        for (const auto& body :
             {cairn::testing::authenticate_body(d.udid),
              cairn::testing::token_update_body(d.udid, std::string(2048, 'u'))}) {
          auto r = d.client->Put("/checkin", body, "application/x-apple-aspen-mdm-checkin");
          if (!r || r->status != 200) ++d.errors;
        }
      });
    for (auto& t : threads) t.join();
  }
  const double enroll_s = std::chrono::duration<double>(Clock::now() - enroll_start).count();

  httplib::SSLClient admin("127.0.0.1", port);
  admin.enable_server_certificate_verification(false);
  admin.set_basic_auth("nanomdm", o["api-key"].c_str());
  admin.set_read_timeout(120, 0);
  for (int c = 0; c < commands; ++c) {
    auto r = admin.Put(
        ("/v1/enqueue/" + ids + "?nopush=1").c_str(),
        cairn::testing::command_body("CMD-" + run + "-" + std::to_string(c), "ProfileList"),
        "application/xml");
    if (!r || r->status != 200) {
      std::cerr << "enqueue failed: " << (r ? r->body : "no response") << "\n";
      return 1;
    }
  }

  const double cpu_before = cpu_seconds_of(server_pid);
  const double own_cpu_before = cpu_seconds_of(::getpid());
  const auto start = Clock::now();
  std::atomic<long> requests{0};
  {
    std::vector<std::thread> threads;
    for (auto& d : fleet)
      threads.emplace_back([&d, &requests] {
        auto timed_put = [&](const std::string& body) {
          const auto t0 = Clock::now();
          auto r = d.client->Put("/mdm", body, "application/x-apple-aspen-mdm");
          d.latencies_us.push_back(
              std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
          ++requests;
          if (!r || r->status != 200) ++d.errors;
          return r;
        };
        auto next = uuid_of(timed_put(cairn::testing::report_body(d.udid, "Idle")));
        while (!next.empty())
          next = uuid_of(timed_put(cairn::testing::report_body(d.udid, "Acknowledged", next)));
      });
    for (auto& t : threads) t.join();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds_of(server_pid) - cpu_before;
  const double own_cpu = cpu_seconds_of(::getpid()) - own_cpu_before;

  std::vector<double> all;
  int errors = 0;
  for (const auto& d : fleet) {
    all.insert(all.end(), d.latencies_us.begin(), d.latencies_us.end());
    errors += d.errors;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::cout << "{\"devices\":" << devices << ",\"commands_per_device\":" << commands
            << ",\"enroll_seconds\":" << enroll_s << ",\"round_trips\":" << requests
            << ",\"seconds\":" << wall << ",\"round_trips_per_second\":" << requests / wall
            << ",\"latency_us\":{\"p50\":" << pct(0.50) << ",\"p95\":" << pct(0.95)
            << ",\"p99\":" << pct(0.99) << ",\"max\":" << (all.empty() ? 0 : all.back()) << "}"
            << ",\"server_cpu_us_per_request\":" << cpu * 1e6 / static_cast<double>(requests)
            << ",\"load_tool_cpu_us_per_request\":" << own_cpu * 1e6 / static_cast<double>(requests)
            << ",\"server_peak_rss_kib\":" << peak_rss_kib_of(server_pid)
            << ",\"errors\":" << errors << "}" << std::endl;
  return errors == 0 ? 0 : 1;
}
