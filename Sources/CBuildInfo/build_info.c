// The version, and the commit and date Tools/stamp-build writes into build_stamp.h (gitignored);
// without that file a plain `swift build` still works and says "unknown".
#include "build_info.h"

#if defined(__has_include)
#if __has_include("build_stamp.h")
#include "build_stamp.h"
#endif
#endif

#define LLMRUN_VERSION "0.1.0"
#ifndef LLMRUN_BUILD_COMMIT
#define LLMRUN_BUILD_COMMIT "unknown"
#endif
#ifndef LLMRUN_BUILD_DATE
#define LLMRUN_BUILD_DATE "unknown"
#endif

const char *llmrun_version(void) { return LLMRUN_VERSION; }
const char *llmrun_build_commit(void) { return LLMRUN_BUILD_COMMIT; }
const char *llmrun_build_date(void) { return LLMRUN_BUILD_DATE; }
