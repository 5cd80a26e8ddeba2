// The chorus command line: option errors (exit code 2, one line naming the option), the text and
// JSON summaries of `detect` against counts known by construction, `generate`'s messages and
// the progress bar on a terminal.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <cmath>

#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/summary.hpp"
#include "chorus/version.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::cli_test;

namespace {

// A 12-account input whose result is known by construction: rows 0-2 (group A) and 3-5
// (group B) are identical within their group in both views and unrelated to everything else;
// rows 6-9 have orthogonal embeddings; rows 10 and 11 have zero embeddings; rows 6-8 have
// constant activity. With --view both (the default) and thresholds 0.8 the graph is the two
// triangles A and B: 6 edges, 2 clusters of 3. /truth/cluster plants exactly A and B.
void write_twelve(const std::string& path, bool with_truth = true) {
  test::dense emb{12, 8, std::vector<double>(12 * 8, 0.0)};
  for (int i = 0; i < 3; ++i) emb.x[i * 8 + 0] = 1.0;         // A
  for (int i = 3; i < 6; ++i) emb.x[i * 8 + 1] = 2.0;         // B
  for (int i = 6; i < 10; ++i) emb.x[i * 8 + (i - 4)] = 1.0;  // e2..e5
  test::dense act{12, 6, std::vector<double>(12 * 6, 0.0)};
  const double a[6] = {5, 0, 5, 0, 5, 0}, b[6] = {0, 3, 0, 3, 1, 3};
  for (int i = 0; i < 3; ++i)
    for (int t = 0; t < 6; ++t) act.x[i * 6 + t] = a[t];
  for (int i = 3; i < 6; ++i)
    for (int t = 0; t < 6; ++t) act.x[i * 6 + t] = b[t];
  for (int i = 6; i < 9; ++i)
    for (int t = 0; t < 6; ++t) act.x[i * 6 + t] = 2;  // constant: no activity edge
  for (int i = 9; i < 12; ++i)
    for (int t = 0; t < 6; ++t) act.x[i * 6 + t] = (t * (i - 7)) % 5;
  std::vector<std::int64_t> truth = {0, 0, 0, 1, 1, 1, -1, -1, -1, -1, -1, -1};
  test::write_input(path, 12, &emb, &act, with_truth ? &truth : nullptr);
}

// Four accounts with orthogonal embeddings and one planted pair that is never found.
void write_lonely(const std::string& path) {
  test::dense emb{4, 4, std::vector<double>(16, 0.0)};
  for (int i = 0; i < 4; ++i) emb.x[i * 4 + i] = 1.0;
  std::vector<std::int64_t> truth = {0, 0, -1, -1};
  test::write_input(path, 4, &emb, nullptr, &truth);
}

std::int64_t dataset_length(const std::string& file, const std::string& name) {
  h5::handle f = h5::open_read(file);
  return static_cast<std::int64_t>(h5::describe(h5::open_dataset(f, name)).dims.at(0));
}

class CliOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir(std::string("cli_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    input = dir + "/in.h5";
    write_twelve(input);
  }
  // `detect` with extra options must fail with exit code 2, one line naming `needle`, and no
  // results file.
  void expect_refused(std::vector<std::string> extra, const std::string& needle,
                      const std::string& in = "") {
    const std::string out = dir + "/out.h5";
    std::vector<std::string> args = {"detect", "--quiet", "--input", in.empty() ? input : in,
                                     "--out",  out};
    args.insert(args.end(), extra.begin(), extra.end());
    const cli_result r = run_cli(args, dir);
    std::string what;
    for (const auto& a : extra) what += a + " ";
    EXPECT_EQ(r.code, 2) << what << r.err;
    EXPECT_EQ(r.err.rfind("chorus: error: ", 0), 0u) << what << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << what << "message: " << r.err;
    EXPECT_EQ(lines_in(r.err), 1) << what << r.err;
    EXPECT_FALSE(exists(out)) << what;
  }
  std::string dir, input;
};

TEST_F(CliOptions, VersionAndHelp) {
  cli_result r = run_cli({"--version"}, dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, std::string(CHORUS_VERSION) + "\n");
  r = run_cli({"--help"}, dir);
  EXPECT_EQ(r.code, 0);
  for (const char* sub : {"generate", "detect", "export", "report", "info", "demo"})
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  r = run_cli({"detect", "--help"}, dir);
  EXPECT_EQ(r.code, 0);
  for (const char* opt : {"--threshold-activity", "--gpu-kernel", "--checkpoint-interval"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST_F(CliOptions, ParseErrorsExitTwoAndPointToHelp) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"detect", "--input", input, "--out", dir + "/o.h5", "--threads", "many"},
           {"detect", "--input", input, "--out", dir + "/o.h5", "--no-such-option"},
           {"export", "--format", "csv", "--out", dir + "/csv"},  // results missing
           {"info"}}) {
    const cli_result r = run_cli(args, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err.rfind("chorus: error: ", 0), 0u) << r.err;
    // the help of the command in use ("chorus detect --help"), or chorus --help
    const std::string help =
        args.empty() ? "(see chorus --help)" : "(see chorus " + args[0] + " --help)";
    EXPECT_NE(r.err.find(help), std::string::npos) << r.err;
    EXPECT_FALSE(exists(dir + "/o.h5"));
  }
}

TEST_F(CliOptions, UnknownChoicesAreNamed) {
  expect_refused({"--activity-transform", "sqrt"},
                 "unknown activity transform 'sqrt' (none, log1p, tfidf)");
  expect_refused({"--backend", "tpu"}, "unknown backend 'tpu' (auto, cpu, cuda)");
  expect_refused({"--precision", "fp16"}, "unknown precision 'fp16' (auto, fp32, bf16, int8)");
  expect_refused({"--gpu-kernel", "wgmma"},
                 "unknown GPU kernel 'wgmma' (auto, fused, cutlass, cublas)");
  expect_refused({"--view", "Both"}, "unknown view 'Both'");
}

TEST_F(CliOptions, ParameterRangesAreChecked) {
  expect_refused({"--weight", "1.5"}, "--weight must lie in [0, 1], got 1.5");
  expect_refused({"--weight", "-0.25"}, "--weight must lie in [0, 1], got -0.25");
  expect_refused({"--threshold", "nan"}, "--threshold must lie in [-1, 1]");
  expect_refused({"--threshold-activity", "1.01"}, "--threshold-activity must lie in [-1, 1]");
  expect_refused({"--topk", "-1"}, "--topk must be >= 0");
  expect_refused({"--max-edges", "-5"}, "--max-edges must be >= 0");
  expect_refused({"--threads", "-2"}, "--threads must be >= 0");
  expect_refused({"--tile-rows", "0"}, "--tile-cols must be a positive multiple of --tile-rows");
  expect_refused({"--tile-rows", "64", "--tile-cols", "32"},
                 "--tile-cols must be a positive multiple of --tile-rows");
  expect_refused({"--tile-rows", "64", "--tile-cols", "96"},
                 "--tile-cols must be a positive multiple of --tile-rows");
  expect_refused({"--checkpoint-interval", "-1", "--checkpoint", dir + "/ck"},
                 "--checkpoint-interval must be >= 0");
  expect_refused({"--resume"}, "--resume needs --checkpoint DIR");
  {  // a job that cannot fit --max-memory is a limit (exit 3, like --max-edges), said up front
    const cli_result m = run_cli(
        {"detect", "--quiet", "--input", input, "--out", dir + "/out.h5", "--max-memory", "1"},
        dir);
    EXPECT_EQ(m.code, 3) << m.err;
    EXPECT_NE(m.err.find("MiB of host memory besides its edges"), std::string::npos) << m.err;
    EXPECT_FALSE(exists(dir + "/out.h5"));
  }
  // the input as its own output: refused before anything is opened for writing
  const cli_result r =
      run_cli({"detect", "--quiet", "--force", "--input", input, "--out", input}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--out must differ from --input"), std::string::npos) << r.err;
  EXPECT_EQ(dataset_length(input, "/accounts/id"), 12) << "the input was touched";
}

TEST_F(CliOptions, ViewNeedsItsDataset) {
  const std::string emb_only = dir + "/emb.h5", act_only = dir + "/act.h5";
  test::dense e{5, 3, std::vector<double>(15, 1.0)}, a{5, 4, std::vector<double>(20, 1.0)};
  test::write_input(emb_only, 5, &e, nullptr);
  test::write_input(act_only, 5, nullptr, &a);
  expect_refused({"--view", "activity"}, "--view activity needs /activity, which '" + emb_only,
                 emb_only);
  expect_refused({"--view", "fused"}, "--view fused needs /activity", emb_only);
  expect_refused({"--view", "embedding"}, "--view embedding needs /embedding, which '" + act_only,
                 act_only);
  expect_refused({"--view", "both"}, "--view both needs /embedding", act_only);
}

// Every accepted spelling of the choices parses, and on the CPU backend the CUDA-only choices
// (--gpu-kernel, --device, --gpu-memory) change nothing, with a warning that says so.
TEST_F(CliOptions, CpuRunsIgnoreTheGpuKernelChoice) {
  std::vector<std::int64_t> first_src;
  for (const char* kernel : {"auto", "fused", "cutlass", "cublas"}) {
    const std::string out = dir + "/res_" + kernel + ".h5";
    const cli_result r =
        run_cli({"detect", "--quiet", "--backend", "cpu", "--gpu-kernel", kernel, "--device", "3",
                 "--gpu-memory", "64", "--input", input, "--out", out},
                dir);
    ASSERT_EQ(r.code, 0) << kernel << ": " << r.err;
    const std::string kernel_given =
        std::string(kernel) == "auto" ? "" : std::string("--gpu-kernel ") + kernel + " ";
    EXPECT_NE(r.err.find("WARNING: " + kernel_given +
                         "--gpu-memory 64 --device 3 ignored: they apply to the CUDA backend"),
              std::string::npos)
        << r.err;
    const auto e = test::read_results(out);
    EXPECT_EQ(e.src, (std::vector<std::int64_t>{0, 0, 1, 3, 3, 4})) << kernel;
    EXPECT_EQ(e.dst, (std::vector<std::int64_t>{1, 2, 2, 4, 5, 5})) << kernel;
  }
  for (const char* tr : {"none", "log1p", "tfidf"}) {
    const std::string out = dir + "/res_" + tr + ".h5";
    const cli_result r = run_cli({"detect", "--quiet", "--activity-transform", tr, "--precision",
                                  "fp32", "--input", input, "--out", out},
                                 dir);
    ASSERT_EQ(r.code, 0) << tr << ": " << r.err;
    // identical rows stay identical under any transform: the same two triangles
    EXPECT_EQ(test::read_results(out).src, (std::vector<std::int64_t>{0, 0, 1, 3, 3, 4})) << tr;
  }
}

TEST_F(CliOptions, TextSummaryMatchesTheInput) {
  const std::string out = dir + "/res.h5";
  const cli_result r = run_cli(
      {"detect", "--backend", "cpu", "--threads", "2", "--input", input, "--out", out}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  // 12 accounts: 66 pairs; two triangles
  EXPECT_EQ(r.out.rfind(out + ": 12 accounts, view both, 66 pairs, ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(", 6 edges, 2 clusters (6 accounts, largest 3)\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nbackend cpu ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rows that cannot get edges: 2 zero embeddings, 3 activity rows (constant, "
                       "or under --min-activity)\n"),
            std::string::npos)
      << r.out;
  // the thresholds in effect, only those the view uses (#15 item 3)
  EXPECT_NE(r.out.find("\nthresholds in effect: embedding cosine >= 0.8 and activity correlation "
                       ">= 0.8 (activity: accounts with >= 5 posts; "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("against /truth/cluster: precision 1.000, recall 1.000, 2 of 2 planted "
                       "clusters recovered\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(lines_in(r.out), 5) << r.out;
  EXPECT_EQ(dataset_length(out, "/edges/src"), 6);

  // without truth and without invalid rows, those two lines are absent
  const std::string plain = dir + "/plain.h5";
  test::dense e{6, 3, std::vector<double>(18)};
  for (int i = 0; i < 18; ++i) e.x[i] = 1.0 + (i % 3) * (i / 3 == 5 ? 2 : 1);
  test::write_input(plain, 6, &e, nullptr);
  const cli_result p = run_cli({"detect", "--input", plain, "--out", dir + "/plain_res.h5"}, dir);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out.find("rows that cannot get edges"), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find("against /truth/cluster"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("\nthreshold in effect: embedding cosine >= 0.8\n"), std::string::npos)
      << p.out;
  EXPECT_EQ(p.out.find("activity"), std::string::npos) << "no activity view here: " << p.out;
  EXPECT_EQ(lines_in(p.out), 3) << p.out;
}

TEST_F(CliOptions, JsonSummaryMatchesTheInput) {
  // an input name with a quote, a backslash and a control character, escaped in the JSON
  const std::string odd = dir + "/in\"q\\b\x01.h5";
  write_twelve(odd);
  const std::string out = dir + "/res.h5";
  const cli_result r =
      run_cli({"detect", "--backend", "cpu", "--json", "--input", odd, "--out", out}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines_in(r.out), 1) << "one JSON line and no text summary: " << r.out;
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "}\n");
  const std::string want_input = "{\"input\":\"" + dir + "/in\\\"q\\\\b\\u0001.h5\",";
  EXPECT_EQ(r.out.rfind(want_input, 0), 0u) << r.out;
  for (const char* s :
       {"\"view\":\"both\"", "\"backend\":\"cpu\"", "\"accounts\":12,", "\"pairs\":66,",
        "\"edges\":6,", "\"edges_before_topk\":6,", "\"clusters\":2,", "\"clustered_accounts\":6,",
        "\"largest_cluster\":3,", "\"invalid_embedding_rows\":2,", "\"invalid_activity_rows\":3,",
        "\"resumed_units\":0,", "\"checkpoints\":0,", "\"cluster_sizes\":[3,3]",
        "\"ranks\":1,\"per_rank\":[{\"rank\":0,", "\"row_begin\":0,\"row_end\":12,\"pairs\":66,",
        ",\"truth\":{\"precision\":1,\"recall\":1,\"planted_clusters\":2,\"planted_recovered\":2}"
        "}"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " in " << r.out;

  // nothing found: precision and recall are 0, not NaN
  const std::string lonely = dir + "/lonely.h5";
  write_lonely(lonely);
  const cli_result z =
      run_cli({"detect", "--json", "--input", lonely, "--out", dir + "/z.h5"}, dir);
  ASSERT_EQ(z.code, 0) << z.err;
  for (const char* s :
       {"\"view\":\"embedding\"", "\"edges\":0,", "\"clusters\":0,", "\"cluster_sizes\":[]",
        "\"truth\":{\"precision\":0,\"recall\":0,\"planted_clusters\":1,"
        "\"planted_recovered\":0}}"})
    EXPECT_NE(z.out.find(s), std::string::npos) << s << " in " << z.out;
}

// to_json on a summary with every field set, against the text written out by hand.
TEST(SummaryJson, EveryFieldAndEscape) {
  detect_summary s;
  s.input = "a\"b\\c\n\x1f";
  s.output = "out.h5";
  s.backend = "cpu";
  s.view = "fused";
  s.precision_used = "int8";
  s.detail = "d";
  s.accounts = 10, s.pairs = 45, s.candidates = 7, s.edges = 3, s.edges_before_topk = 4;
  s.clusters = 1, s.clustered_accounts = 3, s.largest_cluster = 3;
  s.invalid_embedding = 1, s.invalid_activity = 2, s.resumed_units = 5, s.checkpoints = 6;
  s.cluster_sizes = {3};
  s.threshold = 0.7, s.threshold_activity = 0.5, s.weight = 0.25, s.transform = "log1p";
  s.topk = 3, s.threads = 2, s.spilled = true;
  s.min_activity = 5, s.below_min_activity = 4, s.warnings = {"a \"b\"", "c"};
  s.seconds_read = 0.5, s.seconds_score = NAN, s.seconds_components = INFINITY;
  s.seconds_write = 0.25, s.seconds_merge = 0, s.seconds_total = 1.125;
  s.ranks = 2;
  rank_record a, b;
  a.row_begin = 0, a.row_end = 4, a.pairs = 30, a.candidates = 5, a.edges = 2;
  a.seconds_read = 0.5, a.seconds_score = 1, a.seconds_local = 2, a.bytes_sent = 64, a.host = "n1";
  b.row_begin = 4, b.row_end = 10, b.pairs = 15, b.host = "n\"2";
  s.rank_records = {a, b};
  s.has_truth = true;
  s.truth.precision = 0.75, s.truth.recall = 1.0 / 3.0;
  s.truth.planted_clusters = 2, s.truth.planted_recovered = 1;
  const std::string want =
      "{\"input\":\"a\\\"b\\\\c\\u000a\\u001f\",\"output\":\"out.h5\",\"backend\":\"cpu\","
      "\"view\":\"fused\",\"precision\":\"int8\",\"detail\":\"d\",\"accounts\":10,\"pairs\":45,"
      "\"candidates\":7,\"edges\":3,\"edges_before_topk\":4,\"clusters\":1,"
      "\"clustered_accounts\":3,\"largest_cluster\":3,\"invalid_embedding_rows\":1,"
      "\"invalid_activity_rows\":2,\"resumed_units\":5,\"checkpoints\":6,"
      "\"thresholds\":{\"embedding\":0.7,\"activity\":0.5,\"weight\":0.25},"
      "\"views_used\":[\"embedding\",\"activity\"],\"activity_transform\":\"log1p\","
      "\"topk\":3,\"threads\":2,\"edges_spilled\":true,\"min_activity\":5,"
      "\"accounts_below_min_activity\":4,\"warnings\":[\"a \\\"b\\\"\",\"c\"],"
      "\"cluster_sizes\":[3],"
      "\"seconds\":{\"read\":0.5,\"score\":null,\"components\":null,\"write\":0.25,\"merge\":0,"
      "\"total\":1.125},\"ranks\":2,\"per_rank\":["
      "{\"rank\":0,\"host\":\"n1\",\"row_begin\":0,\"row_end\":4,\"pairs\":30,\"candidates\":5,"
      "\"edges\":2,\"seconds_read\":0.5,\"seconds_score\":1,\"seconds_local\":2,\"bytes_sent\":64},"
      "{\"rank\":1,\"host\":\"n\\\"2\",\"row_begin\":4,\"row_end\":10,\"pairs\":15,\"candidates\":"
      "0,"
      "\"edges\":0,\"seconds_read\":0,\"seconds_score\":0,\"seconds_local\":0,\"bytes_sent\":0}],"
      "\"truth\":{\"precision\":0.75,\"recall\":0.3333333333,\"planted_clusters\":2,"
      "\"planted_recovered\":1}}";
  EXPECT_EQ(to_json(s), want);
  s.has_truth = false;
  s.rank_records.clear();
  const std::string j = to_json(s);
  EXPECT_EQ(j.find("truth"), std::string::npos);
  EXPECT_NE(j.find("\"ranks\":2,\"per_rank\":[]}"), std::string::npos) << j;
}

TEST(SummaryJson, NamesOfChoicesRoundTrip) {
  for (const char* v : {"embedding", "activity", "both", "fused"})
    EXPECT_STREQ(to_string(parse_view(v)), v);
  for (const char* t : {"none", "log1p", "tfidf"}) EXPECT_STREQ(to_string(parse_transform(t)), t);
  for (const char* k : {"auto", "fused", "cublas"}) EXPECT_STREQ(to_string(parse_gpu_kernel(k)), k);
  EXPECT_EQ(parse_backend("auto"), backend_kind::automatic);
  EXPECT_EQ(parse_backend("cpu"), backend_kind::cpu);
  EXPECT_EQ(parse_backend("cuda"), backend_kind::cuda);
  EXPECT_EQ(parse_precision("auto"), precision::automatic);
  EXPECT_EQ(parse_precision("fp32"), precision::fp32);
  EXPECT_EQ(parse_precision("bf16"), precision::bf16);
  EXPECT_EQ(parse_precision("int8"), precision::int8);
  EXPECT_THROW(parse_view(""), input_error);
  EXPECT_THROW(parse_precision("INT8"), input_error);
}

TEST(CliGenerate, MessagesAndOptionalHandles) {
  const std::string dir = test::scratch_dir("cli_generate");
  const std::string f = dir + "/g.h5";
  cli_result r = run_cli({"generate", "--accounts", "300", "--dim", "8", "--bins", "24",
                          "--clusters", "3", "--seed", "4", "--out", f, "--no-handles"},
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  h5::handle h = h5::open_read(f);
  EXPECT_FALSE(h5::exists(h, "/accounts/handle"));
  const auto truth = h5::read_all<std::int64_t>(h5::open_dataset(h, "/truth/cluster"));
  std::int64_t coordinated = 0, clusters = 0;
  for (auto t : truth) coordinated += t >= 0, clusters = std::max(clusters, t + 1);
  EXPECT_EQ(clusters, 3);
  EXPECT_EQ(r.err.rfind("wrote " + f + ": 300 accounts, " + std::to_string(coordinated) +
                            " coordinated in 3 clusters, ",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(lines_in(r.err), 1) << r.err;
  // --quiet: nothing on stderr; an existing file needs --force
  r = run_cli({"generate", "--accounts", "300", "--dim", "8", "--bins", "0", "--clusters", "3",
               "--out", f, "--quiet"},
              dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = run_cli({"generate", "--accounts", "300", "--dim", "8", "--bins", "0", "--clusters", "3",
               "--out", f, "--quiet", "--force"},
              dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  h5::handle h2 = h5::open_read(f);
  EXPECT_FALSE(h5::exists(h2, "/activity"));
  EXPECT_TRUE(h5::exists(h2, "/accounts/handle"));
}

// Run chorus with stderr on a pseudo-terminal; returns everything written there.
std::string run_on_terminal(const std::vector<std::string>& args, int* code) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return "no pty";
  const std::string slave = ptsname(master);
  const pid_t pid = fork();
  if (pid == 0) {
    const int s = ::open(slave.c_str(), O_RDWR);
    const int null = ::open("/dev/null", O_RDWR);
    if (s < 0 || null < 0) _exit(126);
    dup2(null, 0), dup2(null, 1), dup2(s, 2);
    close(master);
    std::vector<std::string> a = {CHORUS_BINARY};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& x : a) argv.push_back(x.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string text;
  char buf[4096];
  for (;;) {  // until the child closes the terminal (read fails with EIO)
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  int st = 0;
  waitpid(pid, &st, 0);
  close(master);
  *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return text;
}

TEST(CliProgress, BarOnATerminalOnly) {
  const int probe = posix_openpt(O_RDWR | O_NOCTTY);
  if (probe < 0) GTEST_SKIP() << "no pseudo-terminal here (/dev/ptmx)";
  close(probe);
  const std::string dir = test::scratch_dir("cli_progress");
  const std::string in = dir + "/in.h5";
  int code = -1;
  std::string tty = run_on_terminal({"generate", "--accounts", "3000", "--dim", "16", "--bins",
                                     "24", "--clusters", "4", "--out", in},
                                    &code);
  ASSERT_EQ(code, 0) << tty;
  EXPECT_NE(tty.find("\rgenerate [##############################] 100.0%"), std::string::npos)
      << tty;
  EXPECT_NE(tty.find("units/s"), std::string::npos) << tty;
  EXPECT_NE(tty.find("wrote " + in), std::string::npos) << tty;
  tty =
      run_on_terminal({"detect", "--threads", "2", "--input", in, "--out", dir + "/res.h5"}, &code);
  ASSERT_EQ(code, 0) << tty;
  EXPECT_NE(tty.find("\rscore  ["), std::string::npos) << tty;
  EXPECT_NE(tty.find("100.0%"), std::string::npos) << tty;
  EXPECT_NE(tty.find("pairs/s"), std::string::npos) << tty;
  // --quiet, or stderr not a terminal: no bar
  tty = run_on_terminal({"detect", "--quiet", "--force", "--input", in, "--out", dir + "/res.h5"},
                        &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(tty.find('['), std::string::npos) << tty;
  const cli_result piped =
      run_cli({"detect", "--force", "--input", in, "--out", dir + "/res.h5"}, dir);
  EXPECT_EQ(piped.code, 0);
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << "no progress bar on a pipe";
  EXPECT_EQ(piped.err.find("score  ["), std::string::npos) << "no progress bar on a pipe";
}

}  // namespace
