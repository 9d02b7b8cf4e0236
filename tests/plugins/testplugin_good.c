// A well-formed plugin library with two plugins, for the loader tests. It
// counts the user-data releases so that a test can see them happen.

#include "kiln/kiln_plugin.h"

KILN_PLUGIN_EXPORT kiln_status_t kiln_plugin_init(
    uint32_t host_abi_version, const kiln_plugin_library_t** out_library);
KILN_PLUGIN_EXPORT int testplugin_good_release_count(void);

static int release_count;

int testplugin_good_release_count(void) {
  return release_count;
}

static void release_user_data(void* user_data) {
  (void)user_data;
  ++release_count;
}

// Every output has the shape and dtype of input 0.
static kiln_status_t same_as_input(void* user_data,
                                   const kiln_describe_args_t* args,
                                   kiln_tensor_desc_t* outputs) {
  (void)user_data;
  for (size_t i = 0; i < args->output_count; ++i) {
    outputs[i] = kiln_tensor_desc_like(&args->inputs[0]);
  }
  return NULL;
}

static const kiln_attr_field_t scale_attrs[] = {
    {"factor", KILN_ATTR_TYPE_FLOAT64},
    {"mode", KILN_ATTR_TYPE_STRING},
};
static const char* const scale_aot_attrs[] = {"factor"};

static const kiln_plugin_def_t defs[] = {
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "testlib::scale",
        .input_count = 1,
        .output_count = 1,
        .attrs = scale_attrs,
        .attr_count = 2,
        .user_data_release = release_user_data,
        .describe = same_as_input,
        .aot_impl_attrs = {scale_aot_attrs, 1},
    },
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "testlib::split",
        .version = "2",
        .input_count = 1,
        .output_count = 2,
        .user_data_release = release_user_data,
        .describe = same_as_input,
    },
};

static const kiln_plugin_library_t library = {KILN_PLUGIN_ABI_VERSION, defs, 2};

kiln_status_t kiln_plugin_init(uint32_t host_abi_version,
                               const kiln_plugin_library_t** out_library) {
  (void)host_abi_version;
  *out_library = &library;
  return NULL;
}
