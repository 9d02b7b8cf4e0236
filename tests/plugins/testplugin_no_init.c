// A shared library that exports no kiln_plugin_init.

#include "kiln/kiln_plugin.h"

KILN_PLUGIN_EXPORT int testplugin_no_init_marker(void);

int testplugin_no_init_marker(void) {
  return 42;
}
