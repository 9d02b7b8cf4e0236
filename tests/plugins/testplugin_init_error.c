// A plugin library whose kiln_plugin_init refuses to initialize.

#include "kiln/kiln_plugin.h"

KILN_PLUGIN_EXPORT kiln_status_t kiln_plugin_init(
    uint32_t host_abi_version, const kiln_plugin_library_t** out_library);

kiln_status_t kiln_plugin_init(uint32_t host_abi_version,
                               const kiln_plugin_library_t** out_library) {
  *out_library = NULL;
  return kiln_make_status(KILN_STATUS_FAILED_PRECONDITION,
                          "refusing to initialize for host ABI %u",
                          (unsigned)host_abi_version);
}
