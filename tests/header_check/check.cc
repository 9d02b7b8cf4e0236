// Compiles both public headers as C++17.
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

int kiln_header_check_cc();
int kiln_header_check_cc() {
  kiln_plugin_def_t def = {};
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  kiln_status_t status = kiln_make_status(KILN_STATUS_INTERNAL, "%d", 1);
  kiln_status_free(status);
  return static_cast<int>(def.abi_version);
}
