// Internal logging through a kiln_logger_t.

#ifndef KILN_SRC_BASE_LOG_H_
#define KILN_SRC_BASE_LOG_H_

#include "kiln/kiln.h"

// Formats and sends one line to |logger| if it takes |level|. NULL |logger|
// or a NULL fn drops the line. Never fails (a line too long is truncated).
void kiln__log(const kiln_logger_t* logger, kiln_log_level_t level,
               const char* format, ...) KILN_PRINTF(3, 4);

#endif  // KILN_SRC_BASE_LOG_H_
