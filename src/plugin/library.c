// Plugin libraries: shared objects that export kiln_plugin_init and whose
// plugins are registered all or none.

#include <dlfcn.h>
#include <string.h>

#include "base/base.h"
#include "base/log.h"
#include "base/size.h"
#include "plugin/plugin.h"

_Static_assert(sizeof(kiln_plugin_init_fn_t) == sizeof(void*),
               "dlsym results must fit a function pointer");

// Builds the registry's copies of the library's definitions and inserts them
// with |handle|. On failure nothing is registered and the caller keeps
// |handle|.
static kiln_status_t register_library(kiln_registry_t* registry,
                                      const kiln_plugin_library_t* library,
                                      void* handle) {
  kiln_allocator_t allocator = kiln__registry_allocator(registry);
  kiln_plugin_t** plugins = NULL;
  size_t built = 0;
  size_t bytes = 0;
  kiln_status_t status =
      kiln__size_mul(library->plugin_count, sizeof(kiln_plugin_t*),
                     "plugin library table", &bytes);
  void* block = NULL;
  if (!status) status = kiln_allocator_malloc(allocator, bytes, &block);
  plugins = (kiln_plugin_t**)block;
  for (; !status && built < library->plugin_count; ++built) {
    status = kiln__plugin_build(&library->plugins[built], allocator,
                                &plugins[built]);
    if (status) {
      status = kiln_status_annotate(status, "definition %zu", built);
      break;
    }
  }
  if (!status) {
    status = kiln__registry_insert(registry, plugins, built, handle);
  }
  if (status && plugins) {
    for (size_t i = 0; i < built; ++i) {
      kiln__plugin_free(allocator, plugins[i]);
    }
  }
  kiln_allocator_free(allocator, plugins);
  return status;
}

kiln_status_t kiln_registry_load_library(kiln_registry_t* registry,
                                         const char* path) {
  if (!registry) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_registry_load_library: registry is NULL");
  }
  if (!path || !*path) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_registry_load_library: path is empty");
  }
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    // dlerror's text is only valid until the next dl* call, so use it now.
    const char* reason = dlerror();
    return kiln_make_status(KILN_STATUS_UNAVAILABLE,
                            "cannot load plugin library '%s': %s", path,
                            reason ? reason : "unknown loader error");
  }
  kiln_status_t status = NULL;
  dlerror();
  void* symbol = dlsym(handle, KILN_PLUGIN_INIT_SYMBOL);
  if (!symbol) {
    status = kiln_make_status(KILN_STATUS_NOT_FOUND,
                              "plugin library '%s' does not export '%s'", path,
                              KILN_PLUGIN_INIT_SYMBOL);
  }
  const kiln_plugin_library_t* library = NULL;
  if (!status) {
    kiln_plugin_init_fn_t init = NULL;
    memcpy(&init, &symbol, sizeof(init));
    status = init(KILN_PLUGIN_ABI_VERSION, &library);
    if (status) {
      status = kiln_status_annotate(status, "plugin library '%s': %s failed",
                                    path, KILN_PLUGIN_INIT_SYMBOL);
    } else if (!library) {
      status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "plugin library '%s': %s returned no table",
                                path, KILN_PLUGIN_INIT_SYMBOL);
    }
  }
  if (!status && library->abi_version != KILN_PLUGIN_ABI_VERSION) {
    status = kiln_make_status(
        KILN_STATUS_INCOMPATIBLE,
        "plugin library '%s' was built for plugin ABI %u, this kiln has ABI "
        "%u",
        path, (unsigned)library->abi_version,
        (unsigned)KILN_PLUGIN_ABI_VERSION);
  }
  if (!status && library->plugin_count > 0 && !library->plugins) {
    status = kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin library '%s' lists %zu plugins but its table is NULL", path,
        library->plugin_count);
  }
  if (!status) {
    status = register_library(registry, library, handle);
    if (status) {
      status = kiln_status_annotate(status, "plugin library '%s'", path);
    }
  }
  if (status) {
    dlclose(handle);
    return status;
  }
  kiln__log(kiln__registry_logger(registry), KILN_LOG_LEVEL_INFO,
            "loaded plugin library '%s' (%zu plugins)", path,
            library->plugin_count);
  return NULL;
}
