// chorus: `chorus report`, which runs the Python report tool (matplotlib) on a results file.
#pragma once

#include <string>
#include <vector>

namespace chorus {

/// Run host/outputs/chorus_report.py with Debian's python3 (override: $CHORUS_PYTHON) on
/// `results`, writing `out`; `extra` are further tool arguments. The tool is looked up in
/// $CHORUS_REPORT_TOOL, <exe dir>/../share/chorus/, then the source tree. Returns the tool's exit
/// status (0, or 2 for bad input); throws runtime_failure when python3 or the tool is missing.
int run_report_tool(const std::string& results, const std::string& out,
                    const std::vector<std::string>& extra);

}  // namespace chorus
