// chorus ingest (private): ingest_write.hpp.
#include "ingest_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "chorus/core/error.hpp"
#include "chorus/generate/posts.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/version.hpp"

namespace chorus::ingest {

namespace {

constexpr std::uint64_t kChunk = 16384;

// Phase part: /accounts (ids, handles, keys, post counts, first and last post).
void write_accounts(const h5::handle& f, const account_table& t, const account_selection& sel,
                    ingest_summary& s) {
  const std::vector<std::int64_t> ids = account_ids(t, sel, s.string_ids);
  h5::write_vector<std::int64_t>(f, "/accounts/id", ids);
  std::vector<std::string> handles, keys;
  std::vector<std::int64_t> posts, first, last;
  bool any_handle = false;
  for (std::int64_t r : sel.keep) {
    const account_entry& e = t.entries()[static_cast<std::size_t>(r)];
    any_handle |= !e.handle.empty();
    handles.push_back(e.handle.empty() ? e.key : e.handle);
    keys.push_back(e.key);
    posts.push_back(e.posts);
    first.push_back(e.first);
    last.push_back(e.last);
  }
  if (any_handle || s.string_ids) h5::write_strings(f, "/accounts/handle", handles);
  if (s.string_ids) h5::write_strings(f, "/accounts/key", keys);
  h5::write_vector<std::int64_t>(f, "/accounts/posts", posts);
  h5::write_vector<std::int64_t>(f, "/accounts/first_time", first);
  h5::write_vector<std::int64_t>(f, "/accounts/last_time", last);
}

// /activity in row ranges that fit 256 MiB, one pass over the spool each.
void write_activity(const h5::handle& f, const post_spool& spool, const account_selection& sel,
                    const bin_plan& plan, ingest_summary& s) {
  const auto n = static_cast<std::int64_t>(sel.keep.size());
  const std::uint64_t chunk = std::max<std::uint64_t>(1, (1u << 20) / plan.bins);
  h5::handle act = h5::create_dataset<std::int32_t>(
      f, "/activity", {static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(plan.bins)},
      std::min<std::uint64_t>(chunk, std::max<std::int64_t>(n, 1)), 1);
  const std::int64_t rows_per_pass = std::max<std::int64_t>(1, (256LL << 20) / (4 * plan.bins));
  std::vector<std::int32_t> buf;
  s.posts_outside_window = 0;
  for (std::int64_t r0 = 0; r0 < n; r0 += rows_per_pass) {
    const std::int64_t r1 = std::min(n, r0 + rows_per_pass);
    s.posts_outside_window += count_activity(spool, sel, plan, r0, r1, buf);
    h5::write_rows<std::int32_t>(act, static_cast<std::uint64_t>(r0),
                                 static_cast<std::uint64_t>(r1 - r0), buf.data());
  }
  h5::set_attr(act, "bin_seconds", plan.bin_seconds);
  h5::set_attr(act, "fold", plan.fold);
  if (plan.fold == "none") h5::set_attr(act, "bin_start", iso_utc(plan.from));
  h5::set_attr(act, "window_start", iso_utc(plan.from));
  h5::set_attr(act, "window_end", iso_utc(plan.to));
}

// One CSR list of strings per post (urls, hashtags, mentions): offsets [P+1] and the strings.
struct string_column {
  std::string name;
  h5::handle offsets, values;
  std::uint64_t written_offsets = 0, written_values = 0;
  std::int64_t next = 0;
};

// /posts: the kept accounts' posts in input order (two passes: sizes, then data).
void write_posts(const h5::handle& f, const post_spool& spool, const account_selection& sel) {
  std::uint64_t n_posts = 0, n_str[3] = {0, 0, 0}, n_tok = 0;
  spool.for_each_block(1 << 16, false, [&](const auto& recs, const auto&) {
    for (const spooled_post& r : recs)
      if (sel.new_row[r.account] >= 0) {
        ++n_posts;
        n_str[0] += r.n_urls, n_str[1] += r.n_hashtags, n_str[2] += r.n_mentions;
        n_tok += r.n_tokens;
      }
  });
  const char* names[] = {"urls", "hashtags", "mentions"};
  const char* ints[] = {"account", "time", "id", "repost", "reply"};
  // ids and hashes are random 64-bit numbers: deflate would spend most of the write phase on
  // them and save nothing; rows, times and offsets compress well
  const int deflate[] = {1, 1, 0, 0, 0};
  std::vector<h5::handle> cols;
  for (int k = 0; k < 5; ++k)
    cols.push_back(h5::create_dataset<std::int64_t>(
        f, std::string("/posts/") + ints[k], {n_posts},
        std::min<std::uint64_t>(kChunk, std::max<std::uint64_t>(n_posts, 1)), deflate[k]));
  h5::handle th = h5::create_dataset<std::uint64_t>(
      f, "/posts/text_hash", {n_posts},
      std::min<std::uint64_t>(kChunk, std::max<std::uint64_t>(n_posts, 1)), 0);
  string_column sc[3];
  for (int k = 0; k < 3; ++k) {
    sc[k].offsets = h5::create_dataset<std::int64_t>(
        f, std::string("/posts/") + names[k] + "_offsets", {n_posts + 1},
        std::min<std::uint64_t>(kChunk, n_posts + 1), 1);
    sc[k].values = h5::create_strings(f, std::string("/posts/") + names[k], n_str[k],
                                      n_str[k] ? std::min<std::uint64_t>(kChunk, n_str[k]) : 0);
  }
  h5::handle tok_off = h5::create_dataset<std::int64_t>(
      f, "/posts/tokens_offsets", {n_posts + 1}, std::min<std::uint64_t>(kChunk, n_posts + 1), 1);
  h5::handle tok = h5::create_dataset<std::uint64_t>(
      f, "/posts/tokens", {n_tok}, n_tok ? std::min<std::uint64_t>(kChunk, n_tok) : 0, 0);
  std::int64_t tok_next = 0;
  std::uint64_t tok_written = 0;
  std::uint64_t row = 0;
  spool.for_each_block(1 << 16, true, [&](const auto& recs, const auto& strs) {
    std::vector<std::int64_t> c[5];
    std::vector<std::uint64_t> hashes, tokens;
    std::vector<std::int64_t> offs[3], tok_offs;
    std::vector<std::string> vals[3];
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const spooled_post& r = recs[i];
      const std::int64_t nr = sel.new_row[r.account];
      if (nr < 0) continue;
      const std::int64_t values[5] = {nr, r.time, r.id, r.repost, r.reply};
      for (int k = 0; k < 5; ++k) c[k].push_back(values[k]);
      hashes.push_back(r.text_hash);
      const int counts[3] = {r.n_urls, r.n_hashtags, r.n_mentions};
      std::size_t at = 0;
      for (int k = 0; k < 3; ++k) {
        offs[k].push_back(sc[k].next);
        for (int j = 0; j < counts[k]; ++j) vals[k].push_back(strs[i].items[at++]);
        sc[k].next += counts[k];
      }
      tok_offs.push_back(tok_next);
      if (r.n_tokens > 0) {  // the token blob after the mentions
        const std::string& blob = strs[i].items[at];
        const std::size_t before = tokens.size();
        tokens.resize(before + r.n_tokens);
        std::memcpy(tokens.data() + before, blob.data(), r.n_tokens * sizeof(std::uint64_t));
        tok_next += r.n_tokens;
      }
    }
    const std::uint64_t m = hashes.size();
    for (int k = 0; k < 5; ++k) h5::write_rows<std::int64_t>(cols[k], row, m, c[k].data());
    h5::write_rows<std::uint64_t>(th, row, m, hashes.data());
    for (int k = 0; k < 3; ++k) {
      h5::write_rows<std::int64_t>(sc[k].offsets, row, m, offs[k].data());
      if (!vals[k].empty()) h5::write_strings(sc[k].values, sc[k].written_values, vals[k]);
      sc[k].written_values += vals[k].size();
    }
    h5::write_rows<std::int64_t>(tok_off, row, m, tok_offs.data());
    if (!tokens.empty())
      h5::write_rows<std::uint64_t>(tok, tok_written, tokens.size(), tokens.data());
    tok_written += tokens.size();
    row += m;
  });
  h5::write_rows<std::int64_t>(tok_off, n_posts, 1, &tok_next);
  for (int k = 0; k < 3; ++k) h5::write_rows<std::int64_t>(sc[k].offsets, n_posts, 1, &sc[k].next);
}

// --truth: the truth CSV of `chorus generate --posts` (plain or gzip), matched by account key.
void write_truth(const h5::handle& f, const std::string& path, const account_table& t,
                 const account_selection& sel, ingest_summary& s) {
  const std::vector<posts_truth_row> rows = read_posts_truth(path);
  std::unordered_map<std::string, std::int64_t> row_of;
  for (std::size_t i = 0; i < sel.keep.size(); ++i)
    row_of[t.entries()[static_cast<std::size_t>(sel.keep[i])].key] = static_cast<std::int64_t>(i);
  std::vector<std::int64_t> cluster(sel.keep.size(), -1);
  std::vector<std::int8_t> kind(sel.keep.size(), 0);
  for (const posts_truth_row& r : rows) {
    const auto it = row_of.find(std::to_string(r.user_id));
    if (it == row_of.end()) continue;  // an account left out (--min-posts) or never posting
    cluster[static_cast<std::size_t>(it->second)] = r.cluster;
    kind[static_cast<std::size_t>(it->second)] = static_cast<std::int8_t>(r.kind);
    ++s.truth_accounts;
  }
  if (s.truth_accounts == 0)
    CHORUS_THROW(input_error, "ingest: --truth '", path,
                 "' names none of the accounts read (a truth file of another corpus?)");
  h5::write_vector<std::int64_t>(f, "/truth/cluster", cluster);
  h5::write_vector<std::int8_t>(f, "/truth/kind", kind);
}

void write_attributes(const h5::handle& f, const ingest_options& o, const ingest_summary& s) {
  h5::set_attr(f, "chorus_version", std::string(CHORUS_VERSION));
  h5::set_attr(f, "chorus_ingest", std::int64_t{1});
  h5::set_attr(f, "ingest_content", s.content.empty() ? std::string("none") : s.content);
  h5::set_attr(f, "ingest_dim", static_cast<std::int64_t>(s.dim));
  h5::set_attr(f, "ingest_hash_bits", static_cast<std::int64_t>(o.hash_bits));
  h5::set_attr(f, "ingest_seed", static_cast<std::int64_t>(o.seed));
  h5::set_attr(f, "ingest_min_posts", o.min_posts);
  h5::set_attr(f, "ingest_bin_rule", s.bin_rule);
  h5::set_attr(f, "ingest_normalize", o.normalize);
  h5::set_attr(f, "ingest_posts_read", s.read.posts);
  h5::set_attr(f, "ingest_rows_skipped", s.read.skipped);
  h5::set_attr(f, "ingest_accounts_below_min_posts", s.accounts_below_min_posts);
  std::string files;
  for (const std::string& d : s.files) files += (files.empty() ? "" : "\n") + d;
  h5::set_attr(f, "ingest_files", files);
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) CHORUS_THROW(runtime_failure, "ingest: cannot sync '", path, "' to disk");
}

}  // namespace

void write_input(const ingest_options& o, const account_table& accounts, const post_spool& spool,
                 const account_selection& sel, const bin_plan& plan,
                 const std::vector<float>& content, ingest_summary& s) {
  namespace fs = std::filesystem;
  const std::string tmp = o.out + ".tmp." + std::to_string(::getpid());
  try {
    {
      h5::handle f = h5::create(tmp);
      write_accounts(f, accounts, sel, s);
      if (!content.empty()) {
        const auto n = static_cast<std::uint64_t>(sel.keep.size());
        h5::handle e = h5::create_dataset<float>(
            f, "/embedding", {n, static_cast<std::uint64_t>(s.dim)},
            std::min<std::uint64_t>(kChunk, std::max<std::uint64_t>(n, 1)), 0);
        h5::write_rows<float>(e, 0, n, content.data());
      }
      write_activity(f, spool, sel, plan, s);
      write_posts(f, spool, sel);
      if (!o.truth.empty()) write_truth(f, o.truth, accounts, sel, s);
      write_attributes(f, o, s);
      h5::flush(f);
    }
    sync_file(tmp);
    std::error_code ec;
    fs::rename(tmp, o.out, ec);
    if (ec)
      CHORUS_THROW(runtime_failure, "ingest: cannot rename '", tmp, "' to '", o.out,
                   "': ", ec.message());
  } catch (...) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw;
  }
}

std::vector<float> pool_post_embeddings(const std::string& path, const post_spool& spool,
                                        const account_selection& sel, ingest_summary& s) {
  h5::handle f = h5::open_read(path);
  for (const char* ds : {"/post_id", "/embedding"})
    if (!h5::exists(f, ds))
      CHORUS_THROW(input_error, "ingest: --post-embeddings '", path, "' has no ", ds,
                   " (it needs /post_id [P] and /embedding [P, d])");
  h5::handle ids_ds = h5::open_dataset(f, "/post_id");
  h5::handle emb = h5::open_dataset(f, "/embedding");
  const h5::dataset_info ei = h5::describe(emb), ii = h5::describe(ids_ds);
  if (ei.rank() != 2 || ei.cls != h5::kind::floating || ii.rank() != 1 || ii.dims[0] != ei.dims[0])
    CHORUS_THROW(input_error, "ingest: --post-embeddings '", path,
                 "' needs /post_id [P] and a float /embedding [P, d] of the same P");
  const auto p = static_cast<std::int64_t>(ei.dims[0]);
  const auto d = static_cast<std::int64_t>(ei.dims[1]);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(p));
  if (ii.cls == h5::kind::string) {
    const std::vector<std::string> sid = h5::read_strings(ids_ds);
    for (std::int64_t i = 0; i < p; ++i)
      ids[static_cast<std::size_t>(i)] = key_id(sid[static_cast<std::size_t>(i)]);
  } else if (ii.cls == h5::kind::integer) {
    ids = h5::read_all<std::int64_t>(ids_ds);
  } else {
    CHORUS_THROW(input_error, "ingest: --post-embeddings '", path,
                 "': /post_id must be integers or strings");
  }
  {
    std::vector<std::int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end())
      CHORUS_THROW(input_error, "ingest: --post-embeddings '", path, "': post id ", *dup,
                   " has two vectors");
  }
  std::unordered_map<std::int64_t, std::int64_t> row_of_post;  // post id -> kept account row
  spool.for_each_block(1 << 16, false, [&](const auto& recs, const auto&) {
    for (const spooled_post& r : recs)
      if (r.id >= 0 && sel.new_row[r.account] >= 0)
        row_of_post.emplace(r.id, sel.new_row[r.account]);
  });
  const auto n = static_cast<std::int64_t>(sel.keep.size());
  std::vector<double> sum(static_cast<std::size_t>(n * d), 0.0);
  std::vector<float> block;
  const std::int64_t rows = 8192;
  for (std::int64_t r0 = 0; r0 < p; r0 += rows) {
    const std::int64_t m = std::min(rows, p - r0);
    block.resize(static_cast<std::size_t>(m * d));
    h5::read_rows<float>(emb, static_cast<std::uint64_t>(r0), static_cast<std::uint64_t>(m),
                         block.data());
    for (std::int64_t i = 0; i < m; ++i) {
      const auto it = row_of_post.find(ids[static_cast<std::size_t>(r0 + i)]);
      if (it == row_of_post.end()) {
        ++s.unmatched_post_embeddings;
        continue;
      }
      ++s.pooled_posts;
      for (std::int64_t k = 0; k < d; ++k) {
        const float v = block[static_cast<std::size_t>(i * d + k)];
        if (!std::isfinite(v))
          CHORUS_THROW(input_error, "ingest: --post-embeddings '", path, "': row ", r0 + i,
                       " is not finite");
        sum[static_cast<std::size_t>(it->second * d + k)] += v;
      }
    }
  }
  if (s.pooled_posts == 0)
    CHORUS_THROW(input_error, "ingest: --post-embeddings '", path,
                 "': no /post_id matches a post read (ids of another corpus?)");
  std::vector<float> out(static_cast<std::size_t>(n * d), 0.0f);
  for (std::int64_t r = 0; r < n; ++r) {
    double nn = 0;
    for (std::int64_t k = 0; k < d; ++k)
      nn += sum[static_cast<std::size_t>(r * d + k)] * sum[static_cast<std::size_t>(r * d + k)];
    if (nn == 0) {
      ++s.empty_content_rows;
      continue;
    }
    const double inv = 1.0 / std::sqrt(nn);
    for (std::int64_t k = 0; k < d; ++k)
      out[static_cast<std::size_t>(r * d + k)] =
          static_cast<float>(sum[static_cast<std::size_t>(r * d + k)] * inv);
  }
  s.dim = static_cast<int>(d);
  return out;
}

}  // namespace chorus::ingest
