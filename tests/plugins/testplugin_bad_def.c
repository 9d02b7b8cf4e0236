// A plugin library whose second definition is malformed (no inputs); loading
// it must register neither plugin.

#include "kiln/kiln_plugin.h"

KILN_PLUGIN_EXPORT kiln_status_t kiln_plugin_init(
    uint32_t host_abi_version, const kiln_plugin_library_t** out_library);

static kiln_status_t describe(void* user_data, const kiln_describe_args_t* args,
                              kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

static const kiln_plugin_def_t defs[] = {
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "bad::fine",
        .input_count = 1,
        .output_count = 1,
        .describe = describe,
    },
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "bad::no_inputs",
        .input_count = 0,
        .output_count = 1,
        .describe = describe,
    },
};

static const kiln_plugin_library_t library = {KILN_PLUGIN_ABI_VERSION, defs, 2};

kiln_status_t kiln_plugin_init(uint32_t host_abi_version,
                               const kiln_plugin_library_t** out_library) {
  (void)host_abi_version;
  *out_library = &library;
  return NULL;
}
