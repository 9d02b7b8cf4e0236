// The seed's add plugin (y = x + 1) defined in C: registration, its describe
// result for an input of shape (-1,), the launch expression its AOT
// implementation would return, evaluated for a few sizes, and the errors kiln
// gives for the usual mistakes.
//
// Uses the public headers and the shared library only.

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

// Prints a failed status and exits.
static void check(kiln_status_t status, const char* what) {
  if (!status) return;
  fprintf(stderr, "add_plugin_demo: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  kiln_status_free(status);
  exit(1);
}

// Prints an expected error: its code and message.
static void show_error(const char* what, kiln_status_t status) {
  if (!status) {
    printf("  %-28s unexpectedly succeeded\n", what);
    exit(1);
  }
  printf("  %-28s %s: %s\n", what,
         kiln_status_code_name(kiln_status_code(status)),
         kiln_status_message(status));
  kiln_status_free(status);
}

// @trtp.register("my::add_plugin"): the output is like the input.
static kiln_status_t add_describe(void* user_data,
                                  const kiln_describe_args_t* args,
                                  kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

// The launch recipe of the seed's aot_impl: N = inp0.shape_expr.numel(),
// grid_x = cdiv(N, block_size), and N as the one int32 extra argument.
static kiln_status_t add_launch_exprs(kiln_sym_table_t* sym,
                                      const kiln_tensor_desc_t* input,
                                      int64_t block_size, kiln_sym_t* out_grid,
                                      kiln_sym_t* out_n) {
  kiln_sym_t n = kiln_tensor_desc_numel(sym, input);
  kiln_sym_t grid = kiln_sym_ceil_div(sym, n, kiln_sym_const(sym, block_size));
  if (!grid) return kiln_sym_table_take_error(sym);
  *out_grid = grid;
  *out_n = n;
  return NULL;
}

static void print_desc(const char* label, const kiln_tensor_desc_t* desc) {
  static const char* const names[] = {"x"};
  printf("  %s: %s [", label, kiln_dtype_name(desc->dtype));
  for (int32_t i = 0; i < desc->rank; ++i) {
    char text[128];
    size_t length = 0;
    check(kiln_sym_print(desc->dims[i], names, 1, text, sizeof(text), &length),
          "print dimension");
    printf("%s%s", i ? ", " : "", text);
  }
  printf("] %s\n", kiln_format_name(desc->format));
}

int main(void) {
  printf("kiln %s: the core at work on the seed's add plugin\n\n",
         kiln_version_string());

  kiln_allocator_t allocator = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  check(kiln_registry_create(allocator, NULL, &registry), "create registry");

  // Register "my::add_plugin" with one int attribute, block_size.
  static const kiln_attr_field_t add_attrs[] = {
      {"block_size", KILN_ATTR_TYPE_INT64}};
  kiln_plugin_def_t def = {0};
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = "my::add_plugin";
  def.input_count = 1;
  def.output_count = 1;
  def.attrs = add_attrs;
  def.attr_count = 1;
  def.describe = add_describe;
  const kiln_plugin_t* plugin = NULL;
  check(kiln_registry_register(registry, &def, &plugin), "register");
  kiln_string_view_t id = kiln_plugin_id(plugin);
  printf("registered '%.*s' (namespace '%.*s', attribute block_size: %s)\n\n",
         (int)id.size, id.data, (int)kiln_plugin_namespace(plugin).size,
         kiln_plugin_namespace(plugin).data,
         kiln_attr_type_name(KILN_ATTR_TYPE_INT64));

  kiln_attrs_t* attrs = NULL;
  check(kiln_attrs_create(plugin, allocator, &attrs), "create attributes");
  check(kiln_attrs_set_int64(attrs, "block_size", 256), "set block_size");
  check(kiln_attrs_check_complete(attrs), "attributes");

  // The input x: float32 of shape (-1,), so its one dimension is symbolic.
  kiln_sym_table_t* sym = NULL;
  check(kiln_sym_table_create(allocator, &sym), "create symbol table");
  kiln_sym_t x0 = kiln_sym_dim(sym, 0, 0);
  kiln_tensor_desc_t x = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, &x0);
  kiln_tensor_desc_t y;
  check(kiln_plugin_describe(plugin, &x, 1, attrs, sym, &y, 1), "describe");
  printf("describe for an input of shape (-1,):\n");
  print_desc("input  x", &x);
  print_desc("output 0", &y);

  int64_t block_size = 0;
  check(kiln_attrs_get_int64(attrs, "block_size", &block_size), "block_size");
  kiln_sym_t grid = NULL, n = NULL;
  check(add_launch_exprs(sym, &x, block_size, &grid, &n), "launch");
  static const char* const names[] = {"x"};
  char text[256];
  size_t length = 0;
  check(kiln_sym_print(grid, names, 1, text, sizeof(text), &length), "print");
  printf("\nlaunch: grid_x = %s   (cdiv(x[0], block_size), block_size = %" PRId64
         ")\n",
         text, block_size);
  check(kiln_sym_print(n, names, 1, text, sizeof(text), &length), "print");
  printf("        extra argument 0 (int32) = %s\n\n", text);

  printf("  %12s  %12s  %12s\n", "x[0]", "grid_x", "n (int32)");
  static const int64_t sizes[] = {1, 1000, (INT64_C(1) << 20) + 3,
                                  INT64_C(2147483647)};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
    kiln_dims_t dims = {1, {sizes[i]}};
    kiln_sym_env_t env = {&dims, 1, NULL, 0};
    int64_t grid_x = 0;
    int32_t n32 = 0;
    check(kiln_sym_eval(sym, grid, &env, &grid_x), "evaluate grid_x");
    check(kiln_sym_eval_i32(sym, n, &env, &n32), "evaluate n");
    printf("  %12" PRId64 "  %12" PRId64 "  %12" PRId32 "\n", sizes[i], grid_x,
           n32);
  }

  printf("\nerrors, each with its code and the culprit named:\n");
  kiln_plugin_def_t bad = def;
  bad.id = "my.ns::add_plugin";
  show_error("invalid id:", kiln_registry_register(registry, &bad, NULL));
  bad.id = "trt::add_plugin";
  show_error("reserved namespace:", kiln_registry_register(registry, &bad, NULL));
  show_error("duplicate registration:",
             kiln_registry_register(registry, &def, NULL));
  const kiln_plugin_t* found = NULL;
  show_error("unknown id:",
             kiln_registry_lookup(
                 registry, kiln_make_cstring_view("my::add_plugn"), &found));
  show_error("mistyped attribute:",
             kiln_attrs_set_float64(attrs, "block_size", 256.0));
  show_error("unknown attribute:",
             kiln_attrs_set_int64(attrs, "blocksize", 256));
  {
    kiln_dims_t dims = {1, {INT64_C(1) << 31}};
    kiln_sym_env_t env = {&dims, 1, NULL, 0};
    int32_t n32 = 0;
    show_error("int32 argument too large:",
               kiln_sym_eval_i32(sym, n, &env, &n32));
    kiln_sym_t square = kiln_sym_mul(sym, x0, x0);
    kiln_dims_t big = {1, {INT64_C(1) << 32}};
    kiln_sym_env_t big_env = {&big, 1, NULL, 0};
    int64_t value = 0;
    show_error("overflowing expression:",
               kiln_sym_eval(sym, square, &big_env, &value));
  }

  kiln_sym_table_destroy(sym);
  kiln_attrs_destroy(attrs);
  kiln_registry_release(registry);
  printf("\nNot yet in kiln: the builder, the engine file and the GPU runtime.\n");
  return 0;
}
