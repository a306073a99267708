// Micro benchmarks of the hot path's pieces. Run: build/bench/cairn_micro_bench
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "audit/ledger.hpp"
#include "audit/verify.hpp"
#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"
#include "crypto/digest.hpp"
#include "devsim/scep_client.hpp"
#include "dispatcher/apns_client.hpp"
#include "enrollment/profile.hpp"
#include "eventlog/embedded_log.hpp"
#include "ingest/command_api.hpp"
#include "ingest/identity.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "pki/issuer.hpp"
#include "pki/scep.hpp"
#include "projector/apply.hpp"
#include "projector/projection_store.hpp"
#include "projector/projector.hpp"
#include "projector/queries.hpp"
#include "projector/state.hpp"
#include "protocol/command_json.hpp"
#include "protocol/messages.hpp"
#include "schemas/events.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/webhook_receiver.hpp"
#include "webhook/body.hpp"
#include "webhook/deliverer.hpp"

namespace cairn {
namespace {

void BM_ParseTokenUpdate(benchmark::State& state) {
  const auto body = testing::fixture("device-messages/TokenUpdate.1.plist");
  for (auto _ : state) benchmark::DoNotOptimize(protocol::decode_checkin(Plist::parse(body)));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseTokenUpdate);

void BM_ParseDeviceInformationResult(benchmark::State& state) {
  const auto body = testing::fixture("device-messages/DeviceInformation.1.plist");
  for (auto _ : state) benchmark::DoNotOptimize(protocol::decode_report(Plist::parse(body)));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseDeviceInformationResult);

void BM_PlistSerializeResult(benchmark::State& state) {
  const auto parsed = Plist::parse(testing::fixture("device-messages/DeviceInformation.1.plist"));
  for (auto _ : state) benchmark::DoNotOptimize(parsed.to_xml());
}
BENCHMARK(BM_PlistSerializeResult);

// Cairn's bounded reader against libplist's own (unbounded, recursive: for trusted input only) on
// the same answer, XML and binary: what the safety costs.
void BM_PlistRead(benchmark::State& state) {
  const bool binary = state.range(0) == 1;
  auto body = testing::fixture("device-messages/DeviceInformation.1.plist");
  if (binary) body = Plist::parse(body).to_binary();
  for (auto _ : state) benchmark::DoNotOptimize(Plist::parse(body));
  state.SetLabel(binary ? "binary" : "xml");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_PlistRead)->Arg(0)->Arg(1);

void BM_LibplistRead(benchmark::State& state) {
  const bool binary = state.range(0) == 1;
  auto body = testing::fixture("device-messages/DeviceInformation.1.plist");
  if (binary) body = Plist::parse(body).to_binary();
  for (auto _ : state) {
    plist_t root = nullptr;
    if (binary)
      plist_from_bin(body.data(), static_cast<uint32_t>(body.size()), &root);
    else
      plist_from_xml(body.data(), static_cast<uint32_t>(body.size()), &root);
    plist_free(root);
  }
  state.SetLabel(binary ? "binary" : "xml");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_LibplistRead)->Arg(0)->Arg(1);

events::Event sample_report(int i) {
  return events::Event{
      "6F1C1E0A-0000-4000-8000-" + std::to_string(100000000000 + i),
      "2026-11-22T01:02:03.456Z",
      "DEVICE-" + std::to_string(i % 1000),
      "node-a",
      "device",
      events::CommandReported{
          "Acknowledged",
          "CMD-" + std::to_string(i),
          std::string(64, 'c'),
          events::raw_message(testing::fixture("device-messages/DeviceInformation.1.plist")),
          {}}};
}

void BM_EventEncode(benchmark::State& state) {
  const auto e = sample_report(1);
  for (auto _ : state) benchmark::DoNotOptimize(events::encode(e));
}
BENCHMARK(BM_EventEncode);

void BM_EventDecode(benchmark::State& state) {
  const auto json = events::encode(sample_report(1));
  for (auto _ : state) benchmark::DoNotOptimize(events::decode(json));
}
BENCHMARK(BM_EventDecode);

void BM_MdmSignatureVerifyRealSha1(benchmark::State& state) {
  const auto header = testing::fixture("mdm-signature/idle-request.mdm-signature");
  const auto body = testing::fixture("mdm-signature/idle-request.body");
  for (auto _ : state)
    benchmark::DoNotOptimize(crypto::verify_mdm_signature(header, body, nullptr));
}
BENCHMARK(BM_MdmSignatureVerifyRealSha1);

// The server's share of one request signed as devsim signs it (Mdm-Signature, SHA-256, a device
// identity from Cairn's CA): who is speaking, with the signer's chain checked against the CA.
void BM_MdmSignatureIdentity(benchmark::State& state) {
  const auto ca = pki::make_ca("Bench CA", 30);
  const auto device = pki::issue_certificate(ca, "BENCH-DEVICE", pki::CertUsage::kClient, {}, 30);
  const std::string body = testing::report_body("BENCH-DEVICE", "Idle");
  const auto header =
      crypto::sign_mdm_signature(body, device.cert.get(), device.key.get(), EVP_sha256());
  const ingest::IdentityResolver resolver(std::make_shared<const crypto::TrustStore>(
      crypto::TrustStore::from_pem(crypto::certificate_pem(ca.cert.get()))));
  ingest::IdentityEvidence evidence;
  evidence.mdm_signature = header;
  for (auto _ : state) benchmark::DoNotOptimize(resolver.resolve(evidence, body));
}
BENCHMARK(BM_MdmSignatureIdentity);

// Projector apply rate: a realistic mix per device (enqueue, deliver, acknowledge) applied in
// batches into a real RocksDB, as the projector thread does.
// The server's share of one SCEP enrollment (RSA-2048 RA): decrypt and check the request, issue
// the certificate, build the encrypted, signed reply. The device's key generation is not counted.
void BM_ScepPkcsReq(benchmark::State& state) {
  const auto ca = pki::make_ca("Bench CA", 30);
  const auto ra = pki::issue_scep_ra(ca, 30);
  devsim::ScepRequestOptions o;
  o.challenge = "bench";
  const devsim::ScepClient client(ra.cert.get(), o);
  for (auto _ : state) {
    const auto request = pki::scep::decode_request(client.pkcs_req(), ra);
    const auto issued = pki::issue_for_public_key(ca, X509_REQ_get_subject_name(request.csr.get()),
                                                  X509_REQ_get0_pubkey(request.csr.get()), 365);
    benchmark::DoNotOptimize(
        pki::scep::success_reply(request.envelope, issued.get(), {ca.cert.get()}, ra));
  }
}
BENCHMARK(BM_ScepPkcsReq)->Unit(benchmark::kMillisecond);

// Building and signing one enrollment profile (SCEP identity, the CA as trust payload).
void BM_EnrollmentProfileBuildAndSign(benchmark::State& state) {
  const auto ca = pki::make_ca("Bench CA", 30);
  const auto server = pki::issue_certificate(ca, "mdm.example.com", pki::CertUsage::kServer,
                                             {"mdm.example.com"}, 30);
  enrollment::ProfileSpec spec;
  spec.server_url = "https://mdm.example.com/mdm";
  spec.check_in_url = "https://mdm.example.com/checkin";
  spec.topic = "com.apple.mgmt.External.bench";
  spec.trust_certificates_der = {crypto::certificate_der(ca.cert.get())};
  spec.identity = enrollment::ScepIdentity{"https://mdm.example.com/scep", "challenge"};
  for (auto _ : state)
    benchmark::DoNotOptimize(enrollment::sign_profile(enrollment::build_profile(spec), server, {}));
}
BENCHMARK(BM_EnrollmentProfileBuildAndSign)->Unit(benchmark::kMicrosecond);

void BM_ProjectorApply(benchmark::State& state) {
  testing::TempDir dir;
  projector::ProjectionStore store(dir / "db");
  std::vector<events::Event> events;
  for (int d = 0; d < 1000; ++d) {
    const std::string udid = "DEVICE-" + std::to_string(d);
    events.push_back({"e", "2026-11-22T01:02:03.456Z", udid, "n", "device",
                      events::DeviceAuthenticated{
                          "com.apple.mgmt.t", "", crypto::sha256_hex(udid), "tls", {}, ""}});
  }
  int64_t offset = 0;
  {
    store::Batch batch(store);
    projector::BatchState kv(batch);
    for (const auto& e : events) projector::apply_event(e, {PartitionId(0), Offset(offset++)}, kv);
    store.write(batch);
  }
  int64_t applied = 0;
  int round = 0;
  for (auto _ : state) {
    store::Batch batch(store);
    projector::BatchState kv(batch);
    for (int d = 0; d < 1000; d += 3) {
      const std::string udid = "DEVICE-" + std::to_string(d);
      const std::string uuid = "C-" + std::to_string(round);
      for (events::Payload p :
           {events::Payload{events::CommandEnqueued{uuid, "ProfileList", "<plist/>", true}},
            events::Payload{events::CommandDelivered{uuid}},
            events::Payload{events::CommandReported{"Acknowledged", uuid, "", {}, {}}}}) {
        projector::apply_event({"e", "2026-11-22T01:02:03.456Z", udid, "n", "device", p},
                               {PartitionId(0), Offset(offset++)}, kv);
        ++applied;
      }
    }
    batch.set_next_offset(PartitionId(0), Offset(offset));
    store.write(batch);
    ++round;
  }
  state.SetItemsProcessed(applied);
}
BENCHMARK(BM_ProjectorApply)->Unit(benchmark::kMillisecond);

// The read behind every answer: the device's next command, from a store holding 10,000 devices
// with 10 queued commands each, half of them already finished (tombstones before the floor).
void BM_QueueNextCommand(benchmark::State& state) {
  testing::TempDir dir;
  projector::ProjectionStore store(dir / "db");
  int64_t offset = 0;
  auto apply = [&](const std::string& udid, events::Payload p) {
    store::Batch batch(store);
    projector::BatchState kv(batch);
    projector::apply_event({"e", "2026-11-22T01:02:03.456Z", udid, "n", "device", std::move(p)},
                           {PartitionId(0), Offset(offset++)}, kv);
    store.write(batch);
  };
  for (int d = 0; d < 10000; ++d) {
    const std::string udid = "DEVICE-" + std::to_string(d);
    apply(udid, events::DeviceAuthenticated{"t", "", crypto::sha256_hex(udid), "tls", {}, ""});
    for (int c = 0; c < 10; ++c)
      apply(udid,
            events::CommandEnqueued{"C" + std::to_string(c), "ProfileList", "<plist/>", true});
    for (int c = 0; c < 5; ++c)
      apply(udid, events::CommandReported{"Acknowledged", "C" + std::to_string(c), "", {}, {}});
  }
  projector::ProjectionReader reader(store);
  int d = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        reader.next_command(DeviceId("DEVICE-" + std::to_string(d++ % 10000))));
}
BENCHMARK(BM_QueueNextCommand);

// The typed API's share of a command: JSON → plist, validated against the catalog (a small
// command, and Settings with nested items of several kinds).
void BM_CommandFromJson(benchmark::State& state) {
  const auto& catalog = protocol::CommandCatalog::builtin();
  const bool nested = state.range(0) == 1;
  const protocol::CommandSpec& spec = *catalog.find(nested ? "Settings" : "DeviceLock");
  rapidjson::Document fields;
  fields.Parse(nested ? R"({"Settings": [{"Item": "DeviceName", "DeviceName": "Ana's iPad"},
                                         {"Item": "Bluetooth", "Enabled": true},
                                         {"Item": "Wallpaper", "Image": "aGVsbG8=", "Where": 2}]})"
                      : R"({"PIN": "123456", "Message": "Call IT", "PhoneNumber": "555"})");
  for (auto _ : state)
    benchmark::DoNotOptimize(
        protocol::command_from_json(catalog, spec, fields, "C-1", {}).to_xml());
}
BENCHMARK(BM_CommandFromJson)->Arg(0)->Arg(1);

// Peak and current resident memory of this process, KiB (/proc/self/status).
int64_t proc_status_kib(std::string_view field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field)) return std::stoll(line.substr(field.size() + 1));
  return 0;
}

// One command to N enrolled devices through the typed API's service on the embedded log: the
// request parsed and validated, each device checked (known, not checked out, UUID unused,
// access rights), N CommandEnqueued events appended durably and applied to the projection
// before it answers. rss_growth: peak resident memory during the request above what the
// process held before it.
void BM_BulkEnqueue(benchmark::State& state) {
  const int devices = static_cast<int>(state.range(0));
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  projector::ProjectionStore store(dir / "db");
  projector::AppliedWatermark watermark;
  projector::Projector projector(log, store, watermark);
  projector.start();
  ingest::EventWriter writer(log, watermark, "bench", std::chrono::minutes(5));
  projector::ProjectionReader reader(store);
  ingest::CommandApi commands(writer, reader);
  std::string ids;
  for (int first = 0; first < devices; first += 1000) {
    std::vector<events::Event> batch;
    for (int d = first; d < std::min(devices, first + 1000); ++d) {
      const std::string udid = "BULK-DEVICE-" + std::to_string(d);
      batch.push_back(
          writer.make(udid, "device",
                      events::DeviceAuthenticated{
                          "com.apple.mgmt.bench", "", crypto::sha256_hex(udid), "tls", {}, ""}));
      ids += (ids.empty() ? "\"" : ",\"") + udid + "\"";
    }
    writer.append_and_wait_applied(batch);
  }
  int round = 0;
  int64_t growth_kib = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string json =
        R"({"request_type": "DeviceLock", "PIN": "123456", "command_uuid": "BULK-)" +
        std::to_string(round++) + R"(", "devices": [)" + ids + "]}";
    std::ofstream("/proc/self/clear_refs") << "5";  // resets the peak (VmHWM)
    const int64_t before = proc_status_kib("VmRSS:");
    state.ResumeTiming();
    const auto r = commands.enqueue_typed(json, {"bench", ingest::Role::kAdmin});
    state.PauseTiming();
    growth_kib = std::max(growth_kib, proc_status_kib("VmHWM:") - before);
    if (r.status != 200) state.SkipWithError(r.json.substr(0, 200).c_str());
    state.ResumeTiming();
  }
  projector.stop();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * devices);
  state.counters["rss_growth_MiB"] = static_cast<double>(growth_kib) / 1024;
}
BENCHMARK(BM_BulkEnqueue)->Arg(100000)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// Durable appends from concurrent callers: group commit shares each fdatasync.
void BM_EmbeddedLogAppend(benchmark::State& state) {
  static std::unique_ptr<testing::TempDir> dir;
  static std::unique_ptr<eventlog::EmbeddedLog> log;
  if (state.thread_index() == 0) {
    dir = std::make_unique<testing::TempDir>();
    log = std::make_unique<eventlog::EmbeddedLog>(dir->path());
  }
  const std::string value = events::encode(sample_report(state.thread_index()));
  for (auto _ : state) log->append({{"DEVICE-1", "CommandReported", value}});
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    log.reset();
    dir.reset();
  }
}
BENCHMARK(BM_EmbeddedLogAppend)->Threads(1)->Threads(16)->Threads(64)->UseRealTime();

// Pushes from one APNs client to the APNs simulator (in this process, on the same 2 cores: the
// figure includes the simulator's own work). Arg: pushes per batch, multiplexed on <= 2
// connections. Both sides do TLS and HTTP/2 for real.
void BM_ApnsPushes(benchmark::State& state) {
  testing::TempDir dir;
  const auto ca = pki::make_ca("Bench APNs CA", 1);
  const auto server =
      pki::issue_certificate(ca, "127.0.0.1", pki::CertUsage::kServer, {"127.0.0.1"}, 1);
  const auto push_cert = pki::issue_push_certificate(ca, "com.apple.mgmt.bench", 1);
  std::ofstream(dir / "ca.pem") << crypto::certificate_pem(ca.cert.get());
  apns_sim::ApnsSimulator sim({"127.0.0.1", 0, crypto::certificate_pem(server.cert.get()),
                               pki::private_key_pem(server.key.get(), nullptr), dir / "ca.pem"});
  dispatcher::ApnsClient::Options options;
  options.endpoints.production = "https://127.0.0.1:" + std::to_string(sim.port());
  options.endpoints.ca_file = dir / "ca.pem";
  dispatcher::ApnsClient client(options, crypto::certificate_pem(push_cert.cert.get()),
                                pki::private_key_pem(push_cert.key.get(), nullptr));
  std::vector<dispatcher::Push> batch;
  for (int64_t i = 0; i < state.range(0); ++i)
    batch.push_back({crypto::sha256_hex(std::to_string(i)), "com.apple.mgmt.bench",
                     crypto::uuid_v4(), false, 1800000000});
  client.send({batch.front()});  // connect outside the timing
  int64_t failed = 0;  // the dispatcher retries these (see ANALYSIS.md: connection renewals)
  for (auto _ : state)
    for (const auto& r : client.send(batch)) failed += r.status != 200;
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["connections"] = static_cast<double>(sim.connections_accepted());
  state.counters["failed"] = static_cast<double>(failed);
}
BENCHMARK(BM_ApnsPushes)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

// A webhook body for a command result (NanoMDM's JSON, the plist base64) and its signature.
void BM_WebhookBody(benchmark::State& state) {
  const auto e = events::make_event(
      "BENCH-UDID", "node", "device",
      events::CommandReported{
          "Acknowledged",
          "CMD-1",
          "",
          events::raw_message(testing::fixture("device-messages/DeviceInformation.1.plist")),
          {}});
  for (auto _ : state) {
    const auto body = webhook::body_of(e, "mdm.Connect");
    benchmark::DoNotOptimize(webhook::signature_of("secret", body));
  }
}
BENCHMARK(BM_WebhookBody);

// Webhook deliveries end to end: `Arg` results appended to an embedded log, read by the
// deliverer into its outbox (RocksDB), POSTed one at a time over a kept-alive connection to a
// receiver in this process (plain HTTP; it parses each body), signed. Items: deliveries/s.
void BM_WebhookDelivery(benchmark::State& state) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  store::Database store(dir / "webhooks", webhook::kStoreLayout);
  const crypto::SecretBox secrets({crypto::random_bytes(32)});
  Metrics metrics;
  testing::WebhookReceiver receiver;
  log.append({events::to_record(events::make_event(
      "", "bench", "admin",
      events::WebhookEndpointSet{
          "bench", receiver.url(), {}, secrets.seal("secret", "webhook-secret:bench")}))});
  webhook::Deliverer deliverer(log, store, secrets, metrics, {});
  deliverer.start();
  const std::string body = testing::report_body("BENCH-UDID", "Acknowledged", "CMD-1");
  size_t expected = 0;
  for (auto _ : state) {
    std::vector<eventlog::RecordToAppend> records;
    for (int64_t i = 0; i < state.range(0); ++i)
      records.push_back(events::to_record(events::make_event(
          "BENCH-" + std::to_string(i % 100), "bench", "device",
          events::CommandReported{"Acknowledged", "CMD-1", "", events::raw_message(body), {}})));
    log.append(std::move(records));
    expected += static_cast<size_t>(state.range(0));
    while (receiver.accepted().size() < expected)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_WebhookDelivery)
    ->Arg(2000)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// `n` command results of ~1.5 KiB (a DeviceInformation answer's plist) for 100 devices.
void fill_with_results(eventlog::EventLog& log, int64_t n) {
  const auto message =
      events::raw_message(testing::fixture("device-messages/DeviceInformation.1.plist"));
  for (int64_t done = 0; done < n; done += 1000) {
    std::vector<eventlog::RecordToAppend> records;
    for (int64_t i = 0; i < 1000; ++i)
      records.push_back(events::to_record(
          events::make_event("BENCH-" + std::to_string(i % 100), "bench", "device",
                             events::CommandReported{"Acknowledged", "CMD-1", "", message, {}})));
    log.append(std::move(records));
  }
}

// The audit ledger over `Arg` command results already in an embedded log (each ~1.5 KiB, the
// plist of a DeviceInformation answer): digest, chain, the entry and the device's index written
// to its RocksDB with the position, then one signed checkpoint over them all. Then
// `cairn audit verify` over the same log (the ledger as witness). Items: records/s.
void BM_AuditLedger(benchmark::State& state) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  fill_with_results(log, state.range(0));
  const audit::Signer signer(crypto::SecretBox({crypto::random_bytes(32)}));
  int round = 0;
  for (auto _ : state) {
    store::Database store(dir / ("audit-" + std::to_string(round++)), audit::kStoreLayout);
    audit::Ledger ledger(log, store, signer, {"bench", std::chrono::milliseconds(0)});
    while (ledger.consume(std::chrono::milliseconds(0)) > 0) {
    }
    ledger.checkpoint();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AuditLedger)->Arg(20000)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_AuditVerify(benchmark::State& state) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  fill_with_results(log, state.range(0));
  const audit::Signer signer(crypto::SecretBox({crypto::random_bytes(32)}));
  store::Database store(dir / "audit", audit::kStoreLayout);
  audit::Ledger ledger(log, store, signer, {"bench", std::chrono::milliseconds(0)});
  while (ledger.consume(std::chrono::milliseconds(0)) > 0) {
  }
  ledger.checkpoint();
  const audit::LedgerReader witness(store);
  for (auto _ : state) {
    const auto report = audit::verify_log(log, &witness, signer.public_keys());
    if (!report.intact()) state.SkipWithError("the untouched log did not verify");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AuditVerify)->Arg(20000)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cairn

BENCHMARK_MAIN();
