// Exports the example plugins as a plugin library (libkiln_example_plugins.so)
// for kiln_registry_load_library.

#include "example_plugins.h"

KILN_PLUGIN_EXPORT kiln_status_t kiln_plugin_init(
    uint32_t host_abi_version, const kiln_plugin_library_t** out_library);

KILN_PLUGIN_EXPORT kiln_status_t kiln_plugin_init(
    uint32_t host_abi_version, const kiln_plugin_library_t** out_library) {
  (void)host_abi_version;  // the host compares the table's version itself
  *out_library = kiln_example_plugins();
  return NULL;
}
