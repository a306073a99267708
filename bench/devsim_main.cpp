// cairn-devsim: a fleet of simulated devices against any MDM server that speaks the standard
// protocol and NanoMDM's enqueue API. Enrolls N devices, queues K commands for each through the
// API, runs every device's command session, and prints a JSON summary (with a live progress line
// on stderr while it runs). Device identities come from a CA whose key you pass (Cairn's dev CA:
// data/pki/ca.{crt,key}, passphrase from `cairn pki passphrase`).
//
//   cairn-devsim --url https://127.0.0.1:8443 --api-key KEY --ca-cert data/pki/ca.crt
//                --ca-key data/pki/ca.key --ca-key-pass "$(cairn pki passphrase)" [options]
//
// With --apns-sim HOST:PORT, devsim also hosts the APNs simulator there (TLS certificate from the
// same CA), uploads a push certificate for the fleet's topic, and devices poll only when pushed:
// enqueue -> the server's push -> the simulator wakes the device -> it polls and answers. Point
// the server's APNs URL at the simulator and make it trust the CA (Cairn: --apns-url
// https://HOST:PORT --apns-ca-file data/pki/ca.crt).
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "common/files.hpp"
#include "common/json_writer.hpp"
#include "crypto/certificate.hpp"
#include "devsim/fleet.hpp"
#include "ops/ade_simulator/ade_simulator.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "plist/plist.hpp"

namespace {

using namespace cairn;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage: cairn-devsim [options]
  --url URL[,URL...]     server base URL, https://host:port or http://host:port (https://127.0.0.1:8443);
                         several: device n talks to the n-th modulo (ingest nodes of one cluster)
  --checkin-path P       CheckInURL path (/checkin)      --server-path P   ServerURL path (/mdm)
  --api-url URL          admin API base URL (the first --url)  --api-key KEY     NanoMDM-style API key
  --api-user NAME        Basic auth user (nanomdm)
  --identity MODE        mtls | signature (mtls)         --server-ca F     verify the server against F
  --tls-resume 0         every connection a new TLS session (default: a device resumes its last)
  --ca-cert F --ca-key F [--ca-key-pass P]   CA that issues the device identities
  --devices N (100)  --commands K per device (10)  --concurrency C (32)  --request-type T|mixed (mixed)
  --locked P --duplicate P --lost P --checkout P --silent P   fault probabilities (0)
  --user-enrollment P    share of devices that are User Enrollments, named by EnrollmentID (0)
  --mac-users P          share of devices that are Macs with a user logged in: the user's channel
                         (UDID:USER-n) enrolls after its device and gets the same commands (0)
  --poll-every S --duration S   instead of one drain: every device polls every S seconds for S seconds
  --apns-sim HOST:PORT   host the APNs simulator there; devices poll when pushed (no drain)
  --push-quiet S         push mode: give up after S seconds without progress (30)
  --server-pid PID[,PID...]  read the servers' CPU time and peak RSS from /proc (summed)
  --prefix S             UDID prefix (devsim-<pid>)       --seed N
  --no-push 1            queue with ?nopush=1 (servers without a push certificate: NanoMDM
                         answers an error when it cannot push)
  --enroll 0             skip enrollment: the devices (same --prefix) are enrolled already
  --ddm 1                declarative management: store a set of 5 declarations (an activation of a
                         passcode policy, a software update, a status subscription and a test
                         configuration), give it to every device (/v1/enrollment-sets/<id>, C at a
                         time), let each sync in its session, then have each send a status report
  --ade N                Automated Device Enrollment: N new devices appear in the ADE simulator
                         devsim hosts at --ade-sim HOST:PORT (127.0.0.1:2199; TLS certificate from
                         the CA), devsim connects an ADE token and a profile through the admin API,
                         the server syncs and assigns them all, and the first --devices of them
                         enroll at first boot (MachineInfo signed by an identity from the CA, the
                         profile, SCEP with a new RSA-2048 key each), then drain their commands
                         (DeviceConfigured first). The server needs
                         --ade-url https://HOST:PORT --ade-ca-file CA --ade-device-ca CA
)";

// The set --ddm gives every device: an activation naming four configurations.
std::vector<std::string> ddm_declarations(const std::string& prefix) {
  const std::string p = prefix + ".";
  return {
      R"({"Type":"com.apple.configuration.passcode.settings","Identifier":")" + p +
          R"(passcode","Payload":{"MinimumLength":6,"RequireAlphanumericPasscode":false}})",
      R"({"Type":"com.apple.configuration.softwareupdate.enforcement.specific","Identifier":")" +
          p + R"(update","Payload":{"TargetOSVersion":"18.1","TargetLocalDateTime":)" +
          R"("2027-01-15T20:00:00"}})",
      R"({"Type":"com.apple.configuration.management.status-subscriptions","Identifier":")" + p +
          R"(subscriptions","Payload":{"StatusItems":[{"Name":"passcode.is-compliant"},)" +
          R"({"Name":"softwareupdate.install-state"},{"Name":"softwareupdate.pending-version"}]}})",
      R"({"Type":"com.apple.configuration.management.test","Identifier":")" + p +
          R"(test","Payload":{"Echo":"devsim"}})",
      R"({"Type":"com.apple.activation.simple","Identifier":")" + p +
          R"(activation","Payload":{"StandardConfigurations":[")" + p + R"(passcode",")" + p +
          R"(update",")" + p + R"(subscriptions",")" + p + R"(test"]}})",
  };
}

std::vector<std::string> comma_separated(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  if (content.empty()) return 0;
  std::istringstream fields(content.substr(content.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15) ticks += std::stod(f);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t peak_rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6));
  return 0;
}

// A small configuration profile for InstallProfile commands.
std::string sample_profile(const std::string& identifier) {
  Plist p = Plist::new_dict();
  p.set_string("PayloadIdentifier", identifier);
  p.set_string("PayloadUUID", identifier + "-uuid");
  p.set_string("PayloadDisplayName", "Load test " + identifier);
  p.set_string("PayloadType", "Configuration");
  return p.to_xml();
}

std::string command_plist(const std::string& uuid, const std::string& type, int n) {
  Plist p = Plist::new_dict();
  p.set_string("CommandUUID", uuid);
  Plist command = Plist::new_dict();
  command.set_string("RequestType", type);
  if (type == "InstallProfile")
    command.set_data("Payload", sample_profile("com.example.load." + std::to_string(n)));
  if (type == "DeviceInformation") {
    Plist queries = Plist::new_array();
    for (const char* q : {"UDID", "DeviceName", "OSVersion", "ModelName", "SerialNumber"})
      plist_array_append_item(queries.root(), plist_new_string(q));
    command.set("Queries", std::move(queries));
  }
  plist_dict_set_item(p.root(), "Command", plist_copy(command.root()));
  return p.to_xml();
}

std::unique_ptr<httplib::ClientImpl> admin_client(const std::string& url, const std::string& user,
                                                  const std::string& key) {
  const auto api = devsim::parse_endpoint(url);
  auto client =
      api.tls ? std::unique_ptr<httplib::ClientImpl>(new httplib::SSLClient(api.host, api.port))
              : std::make_unique<httplib::ClientImpl>(api.host, api.port);
  client->enable_server_certificate_verification(false);
  client->set_basic_auth(user.c_str(), key.c_str());
  client->set_read_timeout(300, 0);
  return client;
}

void expect_ok(const httplib::Result& r, const std::string& what) {
  if (!r || r->status / 100 != 2)
    throw std::runtime_error(
        what + " failed: " +
        (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error())));
}

// Where a simulator devsim hosts listens (`listen`: HOST:PORT, `option` names it in errors), and
// its TLS certificate for that host from `ca` (PEM certificate and clear key).
struct Listener {
  std::string host;
  int port = 0;
  std::string cert_pem;
  std::string key_pem;
};
Listener listener(const std::string& listen, const pki::Identity& ca, const char* option) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument(std::string(option) + " wants HOST:PORT");
  const std::string host = listen.substr(0, colon);
  const auto server = pki::issue_certificate(ca, host, pki::CertUsage::kServer, {host}, 30);
  return {host, std::stoi(listen.substr(colon + 1)), crypto::certificate_pem(server.cert.get()),
          pki::private_key_pem(server.key.get(), nullptr)};
}

// The APNs simulator on `listen`, with client certificates (push certificates) from `ca_file`.
std::unique_ptr<apns_sim::ApnsSimulator> host_apns_simulator(const std::string& listen,
                                                             const pki::Identity& ca,
                                                             const std::string& ca_file) {
  auto l = listener(listen, ca, "--apns-sim");
  return std::make_unique<apns_sim::ApnsSimulator>(
      apns_sim::Options{l.host, l.port, l.cert_pem, l.key_pem, ca_file});
}

std::unique_ptr<ade_sim::AdeSimulator> host_ade_simulator(const std::string& listen,
                                                          const pki::Identity& ca) {
  auto l = listener(listen, ca, "--ade-sim");
  return std::make_unique<ade_sim::AdeSimulator>(
      ade_sim::Options{l.host, l.port, l.cert_pem, l.key_pem});
}

// An ADE token connected through the admin API, with a profile every device gets (awaiting
// DeviceConfigured, as large fleets set up their devices), for `count` new devices in `sim`; the
// server then syncs. Returns their serial numbers once the simulator has them all assigned.
std::vector<std::string> connect_ade(httplib::ClientImpl& admin, ade_sim::AdeSimulator& sim,
                                     const std::string& name, const std::string& server_url,
                                     size_t count) {
  auto cert = admin.Post(("/v1/ade/tokens/" + name + "/certificate").c_str());
  expect_ok(cert, "making the ADE token certificate");
  expect_ok(admin.Put(("/v1/ade/tokens/" + name).c_str(), sim.token_file(cert->body),
                      "application/pkcs7-mime"),
            "uploading the ADE token");
  const std::string profile = R"({"profile_name":"devsim","is_supervised":true,)"
                              R"("await_device_configured":true,"url":")" +
                              server_url + R"(/ade/enroll"})";
  for (const auto& [path, body] : {std::pair{"/v1/ade/profiles/" + name, profile},
                                   std::pair{"/v1/ade/tokens/" + name + "/assignment",
                                             R"({"default_profile":")" + name + "\"}"}}) {
    expect_ok(admin.Put(path.c_str(), body, "application/json"), "storing " + path);
  }
  std::string serial_prefix = "DS";
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)))
      serial_prefix += static_cast<char>(std::toupper(c));
  return sim.add_devices(count, serial_prefix + "N");
}

class Progress {
 public:
  explicit Progress(const devsim::Stats& stats) : stats_(stats), tty_(isatty(STDERR_FILENO)) {
    thread_ = std::thread([this] {
      auto last = stats_.requests();
      while (!stop_) {
        for (int i = 0; i < 10 && !stop_; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto now = stats_.requests();
        std::fprintf(stderr, "%s[%s] requests %lld (%lld/s), errors %lld%s", tty_ ? "\r" : "",
                     phase_.load(), static_cast<long long>(now), static_cast<long long>(now - last),
                     static_cast<long long>(stats_.errors()), tty_ ? "   " : "\n");
        last = now;
      }
      if (tty_) std::fprintf(stderr, "\n");
    });
  }
  ~Progress() {
    stop_ = true;
    thread_.join();
  }
  void phase(const char* p) { phase_ = p; }  // a string literal: read by the progress thread

 private:
  const devsim::Stats& stats_;
  bool tty_;
  std::atomic<const char*> phase_{"setup"};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed connection is an error to count, not a crash
  std::map<std::string, std::string> o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || !a.starts_with("--") || i + 1 >= argc) {
      std::cerr << kUsage;
      return a == "--help" ? 0 : 2;
    }
    o[a.substr(2)] = argv[++i];
  }
  auto opt = [&](const std::string& k, const std::string& d) { return o.contains(k) ? o[k] : d; };
  auto seconds_opt = [&](const std::string& k, const std::string& d) {
    return std::chrono::milliseconds(static_cast<int64_t>(std::stod(opt(k, d)) * 1000));
  };
  try {
    const auto urls = comma_separated(opt("url", "https://127.0.0.1:8443"));
    if (urls.empty()) throw std::invalid_argument("--url needs at least one URL");
    std::vector<devsim::Endpoint> endpoints;
    for (const auto& url : urls) {
      devsim::Endpoint& endpoint = endpoints.emplace_back(devsim::parse_endpoint(url));
      endpoint.checkin_path = opt("checkin-path", "/checkin");
      endpoint.server_path = opt("server-path", "/mdm");
      endpoint.server_ca_file = opt("server-ca", "");
      endpoint.identity = opt("identity", "mtls") == "signature"
                              ? devsim::IdentityMode::kMdmSignature
                              : devsim::IdentityMode::kMtls;
      endpoint.resume_tls = opt("tls-resume", "1") == "1";
    }
    const std::string pass = opt("ca-key-pass", "");
    pki::Identity ca{pki::parse_private_key_pem(read_file(opt("ca-key", "data/pki/ca.key")), &pass),
                     crypto::parse_certificate_pem(read_file(opt("ca-cert", "data/pki/ca.crt")))};
    const size_t devices = std::stoul(opt("devices", "100"));
    const int commands = std::stoi(opt("commands", "10"));
    const int concurrency = std::stoi(opt("concurrency", "32"));
    const std::string type = opt("request-type", "mixed");
    std::vector<int> server_pids;
    for (const auto& pid : comma_separated(opt("server-pid", "")))
      server_pids.push_back(std::stoi(pid));
    auto servers_cpu_seconds = [&] {
      double total = 0;
      for (int pid : server_pids) total += cpu_seconds(pid);
      return total;
    };
    const bool measure_servers = !server_pids.empty();
    devsim::Faults faults{std::stod(opt("locked", "0")), std::stod(opt("duplicate", "0")),
                          std::stod(opt("lost", "0")), std::stod(opt("checkout", "0")),
                          std::stod(opt("silent", "0"))};
    const std::string prefix = opt("prefix", "devsim-" + std::to_string(::getpid()));

    devsim::Stats stats;
    Progress progress(stats);
    std::map<std::string, double> seconds, server_cpu, own_cpu;
    auto phase = [&](const char* name, const std::function<void()>& work) {
      progress.phase(name);
      const double server_before = servers_cpu_seconds();
      const double own_before = cpu_seconds(::getpid());
      const auto start = Clock::now();
      work();
      seconds[name] = std::chrono::duration<double>(Clock::now() - start).count();
      server_cpu[name] = servers_cpu_seconds() - server_before;
      own_cpu[name] = cpu_seconds(::getpid()) - own_before;
    };

    const std::string topic = "com.apple.mgmt.devsim";
    auto admin =
        admin_client(opt("api-url", urls.front()), opt("api-user", "nanomdm"), opt("api-key", ""));
    std::unique_ptr<devsim::Fleet> fleet;
    phase("identities", [&] {
      fleet = std::make_unique<devsim::Fleet>(
          endpoints, ca, devices, prefix, topic, faults, std::stoull(opt("seed", "1")),
          devsim::Mix{std::stod(opt("user-enrollment", "0")), std::stod(opt("mac-users", "0"))});
    });
    std::unique_ptr<apns_sim::ApnsSimulator> apns;
    if (o.contains("apns-sim")) {
      apns = host_apns_simulator(o["apns-sim"], ca, opt("ca-cert", "data/pki/ca.crt"));
      apns->on_accepted([&](const apns_sim::RecordedPush& p) { fleet->wake(p.token_hex); });
    }
    // Pushes need one, and so do enrollment profiles (ADE's).
    if (apns || o.contains("ade")) {
      const auto push = pki::issue_push_certificate(ca, topic, 30);
      expect_ok(admin->Put("/v1/pushcert",
                           crypto::certificate_pem(push.cert.get()) +
                               pki::private_key_pem(push.key.get(), nullptr),
                           "application/x-pem-file"),
                "uploading the push certificate");
    }
    std::unique_ptr<ade_sim::AdeSimulator> ade;
    const size_t ade_devices = o.contains("ade") ? std::stoul(o["ade"]) : 0;
    if (o.contains("ade")) {
      if (ade_devices < devices)
        throw std::invalid_argument("--ade N: N devices in ABM, of which --devices enroll");
      ade = host_ade_simulator(opt("ade-sim", "127.0.0.1:2199"), ca);
      std::vector<std::string> serials;
      // Apple's side and the server's sync: the devices appear, the server fetches and assigns.
      phase("ade_sync", [&] {
        serials = connect_ade(*admin, *ade, prefix, urls.front(), ade_devices);
        expect_ok(admin->Post(("/v1/ade/tokens/" + prefix + "/sync").c_str()), "ADE sync");
        const auto deadline = Clock::now() + std::chrono::minutes(10);
        while (ade->counts().assigned < static_cast<int>(ade_devices) && Clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      });
      stats.count("ade_assigned", ade->counts().assigned);
      phase("enroll",
            [&] { fleet->enroll_automated(concurrency, serials, ca, "/ade/enroll", stats); });
    } else if (opt("enroll", "1") != "0") {
      // --enroll 0: the devices (same --prefix) are enrolled already, e.g. to queue more commands.
      phase("enroll", [&] { fleet->enroll(concurrency, stats); });
    }
    const bool ddm = opt("ddm", "0") != "0";
    const std::string ddm_set = prefix + ".set";
    if (ddm) {
      const auto declarations = ddm_declarations(prefix);
      for (const auto& d : declarations) {
        auto r = admin->Put("/v1/declarations?nonotify=1", d, "application/json");
        if (!r || (r->status != 204 && r->status != 304))
          throw std::runtime_error(
              "storing a declaration failed: " +
              (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error())));
      }
      auto r = admin->Put(
          ("/v1/set-declarations/" + ddm_set + "?nonotify=1&declaration=" + prefix + ".activation")
              .c_str(),
          "", "application/json");
      if (!r || (r->status != 204 && r->status != 304))
        throw std::runtime_error("making the set failed");
      // As KMFDDM's scripts do: one call per enrollment (each queues its sync command).
      phase("assign", [&] {
        const auto udids = fleet->udids();
        std::atomic<size_t> next{0};
        std::vector<std::thread> workers;
        for (int w = 0; w < std::max(1, concurrency); ++w)
          workers.emplace_back([&] {
            auto client = admin_client(opt("api-url", urls.front()), opt("api-user", "nanomdm"),
                                       opt("api-key", ""));
            for (size_t i; (i = next++) < udids.size();) {
              const auto start = Clock::now();
              auto put =
                  client->Put(("/v1/enrollment-sets/" + udids[i] + "?set=" + ddm_set).c_str(), "",
                              "application/json");
              stats.record("ddm_assign",
                           std::chrono::duration<double, std::micro>(Clock::now() - start).count(),
                           !put                 ? "transport"
                           : put->status == 204 ? ""
                                                : std::to_string(put->status));
            }
          });
        for (auto& t : workers) t.join();
      });
    }
    const int64_t enroll_requests = stats.requests();

    // Queue through NanoMDM's API, many devices per call (URLs stay well under 8 KB). Each call
    // has its own CommandUUID: NanoMDM refuses one it has stored already ("command already
    // exists"), so one UUID across the calls of a command would stop at the 251st device.
    const std::string enqueue_query = opt("no-push", "0") == "1" ? "?nopush=1" : "";
    auto enqueue = [&] {
      const std::vector<std::string> mix{"DeviceInformation", "ProfileList",
                                         "SecurityInfo",      "InstalledApplicationList",
                                         "InstallProfile",    "CertificateList"};
      const auto udids = fleet->udids();
      for (int c = 0; c < commands; ++c) {
        const std::string request_type = type == "mixed" ? mix[c % mix.size()] : type;
        for (size_t first = 0; first < udids.size(); first += 250) {
          std::string ids;
          for (size_t i = first; i < std::min(udids.size(), first + 250); ++i)
            ids += (ids.empty() ? "" : ",") + udids[i];
          const std::string uuid =
              prefix + "-cmd-" + std::to_string(c) + "-" + std::to_string(first / 250);
          fleet->commands_queued(first, first + 250);
          expect_ok(admin->Put(("/v1/enqueue/" + ids + enqueue_query).c_str(),
                               command_plist(uuid, request_type, c), "application/xml"),
                    "enqueue");
        }
      }
    };
    bool push_loop_complete = true;
    if (apns) {
      // Devices start polling while commands are still being queued, as in production.
      int64_t expected = 0;
      // (An ADE device's DeviceConfigured comes first.)
      for (size_t i = 0; i < fleet->size(); ++i)
        expected += fleet->silent(i) ? 0 : commands + (ade ? 1 : 0);
      phase("drain", [&] {
        std::thread devices_woken_by_pushes([&] {
          push_loop_complete =
              fleet->poll_on_push(concurrency, expected, seconds_opt("push-quiet", "30"), stats);
        });
        try {
          enqueue();
        } catch (...) {
          devices_woken_by_pushes.join();
          throw;
        }
        devices_woken_by_pushes.join();
      });
      if (!push_loop_complete)
        stats.count("commands_never_completed", expected - fleet->commands_completed());
    } else if (o.contains("poll-every")) {
      phase("enqueue", enqueue);
      phase("drain", [&] {
        fleet->poll_on_schedule(concurrency, seconds_opt("poll-every", "60"),
                                seconds_opt("duration", "60"), stats);
      });
    } else {
      phase("enqueue", enqueue);
      phase("drain", [&] { fleet->drain(concurrency, stats); });
    }
    const int64_t drain_requests = stats.requests() - enroll_requests;
    if (ddm) phase("ddm_status", [&] { fleet->report_status(concurrency, stats); });
    const int64_t status_reports = stats.requests() - enroll_requests - drain_requests;

    auto per = [](double total, int64_t n) { return n > 0 ? total / static_cast<double>(n) : 0.0; };
    JsonWriter j;
    j.begin_object()
        .field("devices", static_cast<int64_t>(devices))
        .field("commands_per_device", commands);
    j.field("concurrency", concurrency).field("identity", opt("identity", "mtls"));
    const auto [new_tls, resumed_tls] = fleet->tls_handshakes();
    j.key("tls_handshakes").begin_object().field("new", new_tls).field("resumed", resumed_tls);
    j.end_object();
    j.key("seconds").begin_object();
    for (const auto& [name, s] : seconds) j.field(name, s);
    j.end_object();
    if (seconds.contains("enroll"))
      j.field("enrollments_per_second", static_cast<double>(devices) / seconds.at("enroll"));
    j.field("round_trips", drain_requests);
    j.field("round_trips_per_second", static_cast<double>(drain_requests) / seconds["drain"]);
    if (measure_servers) {
      j.field("server_cpu_us_per_round_trip", per(server_cpu["drain"] * 1e6, drain_requests));
      j.field("server_cpu_seconds",
              server_cpu["enroll"] + server_cpu["enqueue"] + server_cpu["drain"]);
      int64_t peak_rss = 0;
      for (int pid : server_pids) peak_rss += peak_rss_kib(pid);
      j.field("server_peak_rss_kib", peak_rss);
    }
    j.field("own_cpu_us_per_round_trip", per(own_cpu["drain"] * 1e6, drain_requests));
    if (apns) {
      j.field("pushes", static_cast<int64_t>(apns->push_count()));
      j.field("pushes_per_second", static_cast<double>(apns->push_count()) / seconds["drain"]);
      j.field("apns_connections", static_cast<int64_t>(apns->connections_accepted()));
      j.field("commands_completed", fleet->commands_completed());
    }
    if (ddm) {
      const int64_t syncs = stats.counted("ddm_status_reports");  // syncs run to their report
      j.key("ddm").begin_object().field("declarations",
                                        static_cast<int64_t>(ddm_declarations(prefix).size()));
      j.field("assigned_per_second", static_cast<double>(devices) / seconds["assign"]);
      j.field("syncs", syncs)
          .field("syncs_per_second", static_cast<double>(syncs) / seconds["drain"]);
      j.field("declarations_fetched", stats.counted("ddm_declarations_fetched"));
      j.field("status_reports", status_reports)
          .field("status_reports_per_second",
                 static_cast<double>(status_reports) / seconds["ddm_status"]);
      if (measure_servers) {
        // A sync as the device lives it: Idle, the command, its result, and the sync's requests.
        j.field("server_cpu_us_per_sync", per(server_cpu["drain"] * 1e6, syncs));
        j.field("server_cpu_us_per_status_report",
                per(server_cpu["ddm_status"] * 1e6, status_reports));
      }
      j.end_object();
    }
    if (ade) {
      const auto c = ade->counts();
      j.key("ade")
          .begin_object()
          .field("devices", static_cast<int64_t>(ade_devices))
          .field("enrolled", static_cast<int64_t>(devices))
          .field("assigned", c.assigned)
          .field("sync_seconds", seconds["ade_sync"])
          .field("sessions", c.sessions)
          .field("fetch_calls", c.fetch_calls)
          .field("sync_calls", c.sync_calls)
          .field("enrollments_per_second", static_cast<double>(devices) / seconds["enroll"]);
      if (measure_servers)
        j.field("server_cpu_us_per_enrollment",
                per(server_cpu["enroll"] * 1e6, static_cast<int64_t>(devices)));
      j.end_object();
    }
    j.key("stats").raw_object(stats.json());
    j.end_object();
    const std::string out = j.str();
    std::cout << out << std::endl;
    return stats.errors() == 0 && push_loop_complete ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "cairn-devsim: " << e.what() << std::endl;
    return 1;
  }
}
