#include "app/audit_tool.hpp"

#include <filesystem>
#include <memory>

#include "audit/checkpoint.hpp"
#include "audit/ledger.hpp"
#include "crypto/secret_box.hpp"
#include "eventlog/embedded_log.hpp"

namespace cairn::app {
namespace {

std::unique_ptr<eventlog::EventLog> open_log(const std::string& data_dir,
                                             const std::optional<eventlog::KafkaOptions>& kafka) {
  if (kafka) return std::make_unique<eventlog::KafkaLog>(*kafka);
  return std::make_unique<eventlog::EmbeddedLog>(data_dir + "/log",
                                                 eventlog::EmbeddedLog::Mode::kReadOnly);
}

std::unique_ptr<store::Database> open_ledger(const std::string& data_dir) {
  const auto path = data_dir + "/audit";
  if (!std::filesystem::exists(path)) return nullptr;
  return std::make_unique<store::Database>(path, audit::kStoreLayout,
                                           store::Database::Access::kReadOnly);
}

}  // namespace

std::vector<std::string> audit_public_keys(const std::string& data_dir) {
  if (!std::filesystem::exists(data_dir + "/secrets/keyring") && !std::getenv("CAIRN_SECRET_KEYS"))
    throw std::runtime_error("no keyring in " + data_dir +
                             "/secrets: give the checkpoints' public keys (--public-key)");
  return audit::Signer(crypto::SecretBox::load_or_create(data_dir)).public_keys();
}

audit::Report verify_audit_log(const std::string& data_dir,
                               const std::optional<eventlog::KafkaOptions>& kafka,
                               const std::vector<std::string>& public_keys) {
  const auto log = open_log(data_dir, kafka);
  const auto ledger_store = open_ledger(data_dir);
  std::optional<audit::LedgerReader> witness;
  if (ledger_store) witness.emplace(*ledger_store);
  return audit::verify_log(*log, witness ? &*witness : nullptr, public_keys);
}

size_t export_audit(const std::string& data_dir, const std::optional<eventlog::KafkaOptions>& kafka,
                    const audit::ExportFilter& filter, std::ostream& out) {
  const auto log = open_log(data_dir, kafka);
  const auto ledger_store = open_ledger(data_dir);
  if (!ledger_store)
    throw std::runtime_error("no audit ledger in " + data_dir +
                             "/audit: a node builds it (cairn serve) before anything is exported");
  return audit::write_export(out, *log, audit::LedgerReader(*ledger_store), filter);
}

}  // namespace cairn::app
