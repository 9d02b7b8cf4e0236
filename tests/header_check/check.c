// Compiles both public headers as pedantic C11.
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

int kiln_header_check_c(void);
int kiln_header_check_c(void) {
  kiln_tensor_desc_t desc = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 0, NULL);
  return (int)desc.rank + (int)sizeof(kiln_plugin_def_t);
}
