// Logging.

#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/base.h"

static const char* const level_names[] = {"ERROR", "WARNING", "INFO",
                                          "VERBOSE"};

const char* kiln_log_level_name(kiln_log_level_t level) {
  if ((unsigned)level >= KILN_ARRAYSIZE(level_names)) return "UNKNOWN";
  return level_names[level];
}

static void stderr_log(void* user_data, kiln_log_level_t level,
                       const char* message) {
  KILN_UNUSED(user_data);
  fprintf(stderr, "kiln %s: %s\n", kiln_log_level_name(level), message);
}

kiln_logger_t kiln_logger_stderr(void) {
  kiln_logger_t logger = {stderr_log, NULL, KILN_LOG_LEVEL_WARNING};
  return logger;
}

void kiln__log(const kiln_logger_t* logger, kiln_log_level_t level,
               const char* format, ...) {
  if (!logger || !logger->fn || level > logger->max_level) return;
  char line[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  logger->fn(logger->user_data, level, line);
}
