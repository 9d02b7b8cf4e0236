// Status objects: a code, a message and where the status was made.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

struct kiln_status_s {
  kiln_status_code_t code;
  char* message;  // heap, NUL-terminated; or a static string
  char location[96];
};

// Returned when a status itself cannot be allocated. kiln_status_free
// recognizes it and does nothing.
static struct kiln_status_s oom_status = {
    KILN_STATUS_RESOURCE_EXHAUSTED,
    (char*)"out of memory while reporting an error",
    "",
};

static const char* const code_names[] = {
    "OK",
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "OUT_OF_RANGE",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "UNIMPLEMENTED",
    "UNAVAILABLE",
    "DATA_LOSS",
    "INCOMPATIBLE",
    "DEVICE_LOST",
    "INTERNAL",
};
_Static_assert(KILN_ARRAYSIZE(code_names) == KILN_STATUS_CODE_COUNT,
               "code_names must name every kiln_status_code_t");

const char* kiln_status_code_name(kiln_status_code_t code) {
  if ((unsigned)code >= KILN_STATUS_CODE_COUNT) return "UNKNOWN";
  return code_names[code];
}

static char* vformat(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(NULL, 0, format, copy);
  va_end(copy);
  if (n < 0) return NULL;
  char* text = (char*)malloc((size_t)n + 1);
  if (!text) return NULL;
  vsnprintf(text, (size_t)n + 1, format, args);
  return text;
}

kiln_status_t kiln_status_make_va(kiln_status_code_t code, const char* file,
                                  int line, const char* format, va_list args) {
  if (code == KILN_STATUS_OK) return NULL;
  if ((unsigned)code >= KILN_STATUS_CODE_COUNT) code = KILN_STATUS_INTERNAL;
  struct kiln_status_s* status = (struct kiln_status_s*)malloc(sizeof(*status));
  if (!status) return &oom_status;
  status->code = code;
  status->message = vformat(format ? format : "", args);
  if (!status->message) {
    free(status);
    return &oom_status;
  }
  if (file) {
    const char* base = strrchr(file, '/');
    snprintf(status->location, sizeof(status->location), "%s:%d",
             base ? base + 1 : file, line);
  } else {
    status->location[0] = '\0';
  }
  return status;
}

kiln_status_t kiln_status_make(kiln_status_code_t code, const char* file,
                               int line, const char* format, ...) {
  va_list args;
  va_start(args, format);
  kiln_status_t status = kiln_status_make_va(code, file, line, format, args);
  va_end(args);
  return status;
}

kiln_status_t kiln_status_annotate(kiln_status_t status, const char* format,
                                   ...) {
  if (!status || status == &oom_status) return status;
  va_list args;
  va_start(args, format);
  char* prefix = vformat(format, args);
  va_end(args);
  if (!prefix) return status;
  size_t a = strlen(prefix), b = strlen(status->message);
  char* joined = (char*)malloc(a + 2 + b + 1);
  if (joined) {
    memcpy(joined, prefix, a);
    memcpy(joined + a, ": ", 2);
    memcpy(joined + a + 2, status->message, b + 1);
    free(status->message);
    status->message = joined;
  }
  free(prefix);
  return status;
}

kiln_status_code_t kiln_status_code(kiln_status_t status) {
  return status ? status->code : KILN_STATUS_OK;
}

const char* kiln_status_message(kiln_status_t status) {
  return status ? status->message : "";
}

const char* kiln_status_location(kiln_status_t status) {
  return status ? status->location : "";
}

void kiln_status_free(kiln_status_t status) {
  if (!status || status == &oom_status) return;
  free(status->message);
  free(status);
}

kiln_status_t kiln_status_join(kiln_status_t a, kiln_status_t b) {
  if (!a) return b;
  kiln_status_free(b);
  return a;
}

#if !defined(NDEBUG)
void kiln__assert_fail(const char* expr, const char* file, int line) {
  fprintf(stderr, "kiln: internal assertion failed: %s (%s:%d)\n", expr, file,
          line);
  abort();
}
#endif
