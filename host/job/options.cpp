// chorus: names of a job's choices (views, transforms, backends, precisions, kernels), parsed
// from and printed for the command line and the results file.
#include "chorus/coaction/coaction.hpp"
#include "chorus/core/error.hpp"
#include "chorus/job/detect.hpp"

namespace chorus {

view_mode parse_view(const std::string& s) {
  if (s == "embedding") return view_mode::embedding;
  if (s == "activity") return view_mode::activity;
  if (s == "both") return view_mode::both;
  if (s == "fused") return view_mode::fused;
  if (s.rfind("co_", 0) == 0) coaction::parse_view(s);  // names the toolkit's equivalents
  CHORUS_THROW(input_error, "unknown view '", s,
               "' (embedding, activity, both, fused, or a co-action view: co_repost, co_text, "
               "co_link, co_reply, co_hashtag, co_post, co_similar)");
}
const char* to_string(view_mode m) {
  switch (m) {
    case view_mode::embedding:
      return "embedding";
    case view_mode::activity:
      return "activity";
    case view_mode::both:
      return "both";
    case view_mode::fused:
      return "fused";
  }
  return "?";
}
activity_transform parse_transform(const std::string& s) {
  if (s == "none") return activity_transform::none;
  if (s == "log1p") return activity_transform::log1p;
  if (s == "tfidf") return activity_transform::tfidf;
  CHORUS_THROW(input_error, "unknown activity transform '", s, "' (none, log1p, tfidf)");
}
const char* to_string(activity_transform t) {
  switch (t) {
    case activity_transform::none:
      return "none";
    case activity_transform::log1p:
      return "log1p";
    case activity_transform::tfidf:
      return "tfidf";
  }
  return "?";
}
backend_kind parse_backend(const std::string& s) {
  if (s == "auto") return backend_kind::automatic;
  if (s == "cpu") return backend_kind::cpu;
  if (s == "cuda") return backend_kind::cuda;
  CHORUS_THROW(input_error, "unknown backend '", s, "' (auto, cpu, cuda)");
}
precision parse_precision(const std::string& s) {
  if (s == "auto") return precision::automatic;
  if (s == "fp32") return precision::fp32;
  if (s == "bf16") return precision::bf16;
  if (s == "int8") return precision::int8;
  CHORUS_THROW(input_error, "unknown precision '", s, "' (auto, fp32, bf16, int8)");
}

gpu_kernel parse_gpu_kernel(const std::string& s) {
  if (s == "auto") return gpu_kernel::automatic;
  if (s == "fused") return gpu_kernel::fused;
  if (s == "cublas") return gpu_kernel::cublas;
  if (s == "cutlass") return gpu_kernel::cutlass;
  CHORUS_THROW(input_error, "unknown GPU kernel '", s, "' (auto, fused, cutlass, cublas)");
}
const char* to_string(gpu_kernel k) {
  switch (k) {
    case gpu_kernel::automatic:
      return "auto";
    case gpu_kernel::fused:
      return "fused";
    case gpu_kernel::cublas:
      return "cublas";
    case gpu_kernel::cutlass:
      return "cutlass";
  }
  return "?";
}

}  // namespace chorus
