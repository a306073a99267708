#include "dispatcher/apns_client.hpp"

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <mutex>
#include <stdexcept>

#include "common/json_writer.hpp"

namespace cairn::dispatcher {
namespace {

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One push in flight: the easy handle and what it reads and writes.
struct Transfer {
  SlistPtr headers;
  std::string body;
  std::string response;
  PushResult* result = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  EasyPtr easy;  // last: destroyed first, while the headers and body it points to still live
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->response.size() < 4096) t->response.append(data, size * n);  // APNs answers are small
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view kApnsId = "apns-id:";
  if (line.size() > kApnsId.size() &&
      strncasecmp(line.data(), kApnsId.data(), kApnsId.size()) == 0) {
    line.remove_prefix(kApnsId.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    t->result->apns_id = std::string(line);
  }
  return size * n;
}

std::string reason_of(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  const auto it = doc.FindMember("reason");
  return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

std::string mdm_body(const std::string& push_magic) {
  JsonWriter j;
  j.begin_object().field("mdm", push_magic).end_object();
  return j.str();
}

curl_blob blob_of(std::string& pem) {
  return curl_blob{pem.data(), pem.size(), CURL_BLOB_NOCOPY};
}

}  // namespace

struct ApnsClient::Impl {
  Options options;
  std::string cert_pem;
  std::string key_pem;
  MultiPtr multi{curl_multi_init()};

  std::unique_ptr<Transfer> start(const Push& push, PushResult& result) {
    auto t = std::make_unique<Transfer>();
    t->easy.reset(curl_easy_init());
    t->result = &result;
    t->body = mdm_body(push.push_magic);
    CURL* e = t->easy.get();
    const std::string url =
        (push.sandbox ? options.endpoints.sandbox : options.endpoints.production) + "/3/device/" +
        push.token_hex;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);  // wait to multiplex rather than open connections
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
    for (const std::string& h : {"apns-topic: " + push.topic, std::string("apns-push-type: mdm"),
                                 std::string("apns-priority: 10"),
                                 "apns-expiration: " + std::to_string(push.expiration_unix),
                                 std::string("content-type: application/json")})
      t->headers.reset(curl_slist_append(t->headers.release(), h.c_str()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());
    auto cert = blob_of(cert_pem);
    auto key = blob_of(key_pem);
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    if (!options.endpoints.ca_file.empty())
      curl_easy_setopt(e, CURLOPT_CAINFO, options.endpoints.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_multi_add_handle(multi.get(), e);
    return t;
  }

  static void finish(Transfer& t, CURLcode code) {
    if (code != CURLE_OK) {
      t.result->error = t.error[0] ? t.error : curl_easy_strerror(code);
      return;
    }
    long status = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    t.result->status = static_cast<int>(status);
    if (status != 200) t.result->reason = reason_of(t.response);
  }
};

ApnsClient::ApnsClient(Options options, std::string cert_pem, std::string key_pem)
    : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->options = std::move(options);
  impl_->cert_pem = std::move(cert_pem);
  impl_->key_pem = std::move(key_pem);
  if (!impl_->multi) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(impl_->multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(impl_->multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                    impl_->options.max_connections_per_host);
  // curl opens at most 100 streams per connection unless told; APNs (and the simulator) allow
  // more, and a batch of pushes needs them to share few connections.
  curl_multi_setopt(impl_->multi.get(), CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
}

ApnsClient::~ApnsClient() = default;

std::vector<PushResult> ApnsClient::send(const std::vector<Push>& pushes) {
  std::vector<PushResult> results(pushes.size());
  std::vector<std::unique_ptr<Transfer>> transfers;
  transfers.reserve(pushes.size());
  for (size_t i = 0; i < pushes.size(); ++i)
    transfers.push_back(impl_->start(pushes[i], results[i]));
  CURLM* multi = impl_->multi.get();
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      Impl::finish(*t, msg->data.result);
      curl_multi_remove_handle(multi, msg->easy_handle);
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  } while (running > 0);
  return results;
}

}  // namespace cairn::dispatcher
