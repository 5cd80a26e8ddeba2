// chorus co-action views: accounts that share the same object (a reposted post, a text, a link,
// a replied-to post, a hashtag, or just the moment of posting) within a time window.
//
// Semantics are QUT coordination-network-toolkit 1.5's (README, "Co-action views"): for accounts
// u and v, the directed weight w(u->v) counts u's distinct posts that have a post of v, other than
// itself, sharing one of its objects within `window` seconds (inclusive). Self-pairs are not
// edges. An undirected edge {u, v} is kept when max(w(u->v), w(v->u)) >= min_weight, which is
// exactly when the toolkit has a row u->v or v->u; both directed weights are stored on it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "chorus/coaction/normalise.hpp"

namespace chorus::coaction {

/// The co-action views. Which posts take part and what their objects are:
/// - repost:  reposts; object: the id of the post reposted (the toolkit's co_retweet);
/// - text:    posts that are not reposts; object: the normalised text (co_tweet);
/// - link:    posts that are not reposts; objects: their links, normalised (co_link);
/// - reply:   replies that are not reposts; object: the id replied to (co_reply);
/// - hashtag: posts that are not reposts; objects: their hashtags (no toolkit counterpart);
/// - post:    every post; one object for all: timing only (co_post);
/// - similar: posts that are not reposts and have words; two posts match when the Jaccard
///   similarity of their token sets (words and hashtags, /posts/tokens) is at least the
///   similarity threshold (the toolkit's co_similar_tweet, with chorus's tokens). Candidates
///   come from prefix filtering (objects: the first |S| - ceil(t |S|) + 1 tokens of each set in
///   one global order, rarest first), which finds every pair at or above t, and every candidate
///   is decided exactly.
enum class view_kind { repost, text, link, reply, hashtag, post, similar };

/// True for "co_repost", "co_text", "co_link", "co_reply", "co_hashtag", "co_post", "co_similar".
bool is_view_name(const std::string& name);
/// Parses a co-action view name; throws input_error naming the valid ones.
view_kind parse_view(const std::string& name);
/// "co_repost", ...
const char* to_string(view_kind v);

/// Every occurrence of an object in the posts, the index the views sweep. Occurrences are sorted
/// by (object, time, post); a post holding the same object twice occurs once.
struct object_index {
  std::int64_t accounts = 0;               ///< rows of the input
  std::vector<std::int64_t> object_begin;  ///< CSR over objects: [begin[o], begin[o+1])
  std::vector<std::int64_t> time;          ///< per occurrence: the post's time (Unix seconds)
  std::vector<std::int64_t> post;          ///< per occurrence: the post's row in /posts
  std::vector<std::uint32_t> account;      ///< per occurrence: the post's account row
  std::vector<std::uint32_t> object;       ///< per occurrence: its object
  /// CSR over accounts: the occurrences of account a are by_account[account_begin[a] ..
  /// account_begin[a+1]), grouped by post.
  std::vector<std::int64_t> account_begin, by_account;
  /// Per object: how a user reads it (the post id, the link, the hashtag, the text key in hex).
  std::vector<std::string> label;
  std::int64_t posts_used = 0;  ///< posts that hold at least one object
  /// co_similar: two posts match only when the Jaccard similarity of their token sets (sorted
  /// hashes, CSR by post row) is at least `similarity`.
  bool similar = false;
  double similarity = 0;
  std::vector<std::int64_t> token_begin;
  std::vector<std::uint64_t> tokens;
};

/// |a & b| / |a | b| of two sorted, distinct token lists (0 when both are empty).
double jaccard(const std::uint64_t* a, std::size_t na, const std::uint64_t* b, std::size_t nb);

/// The posts of an input as the views read them (a subset of the /posts columns).
struct post_columns {
  std::int64_t accounts = 0;  ///< rows of the input (/accounts/id)
  std::vector<std::int64_t> account, time, id, repost, reply;
  std::vector<std::uint64_t> text_hash;
  std::vector<std::int64_t> url_offsets, tag_offsets;  ///< CSR, [P+1] (empty: not read)
  std::vector<std::string> urls, tags;
  std::vector<std::int64_t> token_offsets;     ///< CSR [P+1] into `tokens` (co_similar)
  std::vector<std::uint64_t> tokens;           ///< per post: distinct token hashes, ascending
  normalisation norm = normalisation::chorus;  ///< what `chorus ingest --normalize` applied
};

/// The warning for an input whose ingest left accounts out (--min-posts above 1): their posts
/// are not in /posts, so they take part in no co-action view. Empty when none were left out.
std::string left_out_warning(const std::string& input);

/// Reads the /posts columns `v` needs from an input written by `chorus ingest`; throws
/// input_error when the input has no /posts (naming `chorus ingest`).
post_columns read_post_columns(const std::string& input, view_kind v);

/// Host memory a co-action run of view `v` over `input` needs besides its edges, in bytes: the
/// /posts columns read, the object index, and two counters per account per thread.
std::uint64_t memory_needed(const std::string& input, view_kind v, int threads);

/// The occurrences of `v`'s objects among `posts` (links normalised with normalise_url unless
/// the input was ingested with --normalize toolkit, which compares them as given).
/// `similarity`: co_similar's Jaccard threshold, in (0, 1].
object_index build_index(const post_columns& posts, view_kind v, int threads = 0,
                         double similarity = 0.9);

/// What a co-action pass takes.
struct sweep_options {
  std::int64_t window = 60;        ///< seconds, inclusive
  std::int64_t min_weight = 1;     ///< an undirected edge needs max(w(u->v), w(v->u)) >= this
  std::int64_t max_edges = 0;      ///< 0: no limit; more edges than this is a limit_error
  std::int64_t evidence_cap = 20;  ///< evidence rows kept per edge (0: no evidence)
  int threads = 0;                 ///< 0: OpenMP's default
};

/// The undirected edges of a co-action view, sorted by (src, dst), src < dst.
struct coaction_edges {
  std::vector<std::int64_t> src, dst;
  std::vector<std::int64_t> weight_src_dst, weight_dst_src;  ///< w(src->dst), w(dst->src)
  std::int64_t directed_rows = 0;  ///< directed weights >= min_weight (the toolkit's rows)
};

/// The directed weights and edges of one view over `index`:
/// edges_from(index, directed_pass(index, opt, 0, accounts), opt).
coaction_edges sweep(const object_index& index, const sweep_options& opt);

/// One directed weight w(src->dst).
struct directed_weight {
  std::uint32_t src, dst;
  std::int64_t weight;
};

/// Pass 1 for the accounts [begin, end) (end < 0: all): every w(u->v) >= opt.min_weight of
/// those u, in any order. The passes of disjoint ranges together give the whole view's rows.
std::vector<directed_weight> directed_pass(const object_index& index, const sweep_options& opt,
                                           std::int64_t begin, std::int64_t end);

/// The undirected edges of all the directed rows of a view (any order), with the directions
/// pass 1 did not keep computed exactly; --max-edges checked.
coaction_edges edges_from(const object_index& index, std::vector<directed_weight> rows,
                          const sweep_options& opt);

/// Range k of `parts` contiguous account ranges with about equal occurrences:
/// [split_accounts(x, parts, k), split_accounts(x, parts, k + 1)).
std::int64_t split_accounts(const object_index& index, int parts, int k);

/// The directed weights (w(a->b), w(b->a)) of any pairs (a, b), a != b, whatever they are
/// (0 when the accounts share nothing within the window).
std::vector<std::pair<std::int64_t, std::int64_t>> pair_weights(
    const object_index& index, const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
    std::int64_t window, int threads = 0);

/// Evidence of the edges: the pairs of posts (one of each account) that share an object within
/// the window, the first `cap` per edge in time order of the src account's post, and how many
/// there are in all.
struct coaction_evidence {
  std::vector<std::int64_t> pairs;         ///< per edge: matching post pairs, uncapped
  std::vector<std::int64_t> edge_offsets;  ///< CSR [E+1] into the rows below
  std::vector<std::int64_t> object;        ///< the object (index into object_index::label)
  std::vector<std::int64_t> post_src, time_src, post_dst, time_dst;  ///< /posts rows, times
};

coaction_evidence collect_evidence(const object_index& index, const coaction_edges& edges,
                                   const sweep_options& opt);

}  // namespace chorus::coaction
