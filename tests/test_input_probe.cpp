// The job inspects its input once, in a child process (inspect_input_isolated): the layout the
// child hands back must be exactly what an in-process inspection finds, field by field.
#include <gtest/gtest.h>

#include "chorus/core/error.hpp"
#include "chorus/io/input.hpp"
#include "test_support.hpp"

namespace chorus {
namespace {

void expect_same(const input_info& a, const input_info& b) {
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.file_size, b.file_size);
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.has_embedding, b.has_embedding);
  EXPECT_EQ(a.has_activity, b.has_activity);
  EXPECT_EQ(a.has_handles, b.has_handles);
  EXPECT_EQ(a.has_truth, b.has_truth);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.bins, b.bins);
  EXPECT_EQ(a.embedding_dtype, b.embedding_dtype);
  EXPECT_EQ(a.activity_dtype, b.activity_dtype);
  EXPECT_EQ(a.unrecognised, b.unrecognised);
  EXPECT_EQ(a.id_dtype, b.id_dtype);
}

TEST(InputProbe, ChildInspectionEqualsInProcess) {
  const std::string dir = test::scratch_dir("probe");
  const generate_options g = test::generated(dir + "/both.h5", 300, 24, 12, 3, 7);
  const input_info child = inspect_input_isolated(g.out), here = inspect_input(g.out);
  expect_same(child, here);
  EXPECT_TRUE(child.has_embedding && child.has_activity && child.has_truth);
  EXPECT_EQ(child.n, 300);
  EXPECT_EQ(child.dim, 24);
  EXPECT_EQ(child.bins, 12);

  test::dense e = test::clustered(50, 5, 2);  // embedding only, no handles or truth
  test::write_input(dir + "/emb.h5", 50, &e, nullptr);
  expect_same(inspect_input_isolated(dir + "/emb.h5"), inspect_input(dir + "/emb.h5"));
  EXPECT_FALSE(inspect_input_isolated(dir + "/emb.h5").has_activity);
}

TEST(InputProbe, ChildErrorsComeBackTyped) {
  const std::string dir = test::scratch_dir("probe-bad");
  EXPECT_THROW(inspect_input_isolated(dir + "/missing.h5"), input_error);
}

}  // namespace
}  // namespace chorus
