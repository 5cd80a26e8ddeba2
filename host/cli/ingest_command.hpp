// chorus CLI: the ingest subcommand (posts files -> an input file).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "chorus/ingest/ingest.hpp"

namespace chorus::cli {

/// `chorus ingest`'s options as typed.
struct ingest_command {
  ingest::ingest_options opt;
  std::string format = "auto", preset = "auto", bin = "auto", from, to;
  bool json = false, quiet = false;
  CLI::App* app = nullptr;
};

/// Register `chorus ingest` on `app`.
void add_ingest(CLI::App& app, ingest_command& c);
/// Run it: prints the summary (text or --json); returns the exit code.
int run_ingest_command(ingest_command& c);

using ingest::parse_duration;

}  // namespace chorus::cli
