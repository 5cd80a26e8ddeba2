// chorus ingest: one post as the readers hand it to the ingest pipeline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chorus::ingest {

/// One post, parsed and validated by a reader (chorus/ingest/reader.hpp). Strings are UTF-8
/// (invalid bytes already replaced by U+FFFD); empty means "not given".
struct post {
  std::string account;    ///< account key as written in the file (a number or any string)
  std::string handle;     ///< screen name, when the file has one
  std::int64_t time = 0;  ///< Unix seconds (UTC)
  std::string text;
  std::string id;                 ///< the post's own id
  std::string repost;             ///< id of the post this one reposts (retweet), empty if none
  std::string reply;              ///< id of the post this one replies to, empty if none
  std::vector<std::string> urls;  ///< links as given (expanded URLs for X/Twitter JSON)
  std::int64_t line = 0;          ///< 1-based line where the record starts in its file
  int file = 0;                   ///< index of its file in the reader's file list
};

}  // namespace chorus::ingest
