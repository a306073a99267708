#include "store/database.hpp"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.hpp"

namespace cairn::store {
namespace {

TEST(Database, RefusesAStoreOfAnotherLayout) {
  testing::TempDir dir;
  { Database fresh(dir / "db", "layout-2"); }  // an empty store takes the layout it is given
  EXPECT_NO_THROW(Database(dir / "db", "layout-2"));
  try {
    Database newer(dir / "db", "layout-3");
    FAIL() << "opened a store of another layout";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("move that directory away"), std::string::npos);
  }
}

TEST(Database, ABatchIsReadThroughAndWrittenAtOnceWithItsPosition) {
  testing::TempDir dir;
  Database db(dir / "db", "test");
  Batch batch(db);
  batch.put("a/1", "one");
  batch.put("a/2", "two");
  batch.set_next_offset(PartitionId(3), Offset(42));
  EXPECT_EQ(batch.get("a/1"), "one");  // the batch sees its own writes
  EXPECT_FALSE(db.get("a/1"));         // the database does not, yet
  EXPECT_EQ(db.next_offset(PartitionId(3)), Offset(0));
  db.write(batch);
  EXPECT_EQ(db.get("a/2"), "two");
  EXPECT_EQ(db.next_offset(PartitionId(3)), Offset(42));
  EXPECT_EQ(db.digest().positions, (std::map<int32_t, int64_t>{{3, 42}}));
}

TEST(Database, NoConsumerCanWriteTheStoresOwnKeys) {
  testing::TempDir dir;
  Database db(dir / "db", "test");
  Batch batch(db);
  // A layout that used these would overwrite the store's position or layout version.
  EXPECT_THROW(batch.put("p/00000000", "999"), std::logic_error);
  EXPECT_THROW(batch.put("v/layout", "other"), std::logic_error);
  EXPECT_THROW(db.bulk_load({{"p/00000001", "5"}}, {}), std::logic_error);
  EXPECT_EQ(db.next_offset(PartitionId(0)), Offset(0));
}

TEST(Database, ABulkLoadWritesTheStateAndThenItsPositions) {
  testing::TempDir dir;
  Database loaded(dir / "loaded", "test");
  loaded.bulk_load({{"a/1", "one"}, {"b/2", "two"}}, {{0, 7}});
  Database batched(dir / "batched", "test");
  Batch batch(batched);
  batch.put("b/2", "two");
  batch.put("a/1", "one");
  batch.set_next_offset(PartitionId(0), Offset(7));
  batched.write(batch);
  EXPECT_EQ(loaded.digest().sha256, batched.digest().sha256);  // same state, either way
  std::vector<std::string> keys;
  loaded.scan("a/", {}, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  EXPECT_EQ(keys, std::vector<std::string>{"a/1"});
}

}  // namespace
}  // namespace cairn::store
