#ifndef LLMRUN_BUILD_INFO_H
#define LLMRUN_BUILD_INFO_H

/// The release this source tree is, e.g. "0.1.0".
const char *llmrun_version(void);
/// The git commit the binary was built from (short hash, "+dirty" when the tree had changes), or
/// "unknown" when it was built without Tools/stamp-build (a plain `swift build`).
const char *llmrun_build_commit(void);
/// When Tools/stamp-build ran (UTC, ISO 8601), or "unknown".
const char *llmrun_build_date(void);

#endif
