// A CPU stand-in for libcuda.so.1, for testing kiln's Python runtime path
// without a GPU (test_run_fake_gpu.py builds it into a temporary directory
// and puts that first on LD_LIBRARY_PATH of a child process).
//
// "Device memory" is host memory, so copies work. A launch of the kernel
// named "add_one" (tests/python/plugins_ptx.py: parameters x, n, y) computes
// y[i] = x[i] + 1 on the host; other kernels do nothing. There are no
// CUDA-graph functions, so contexts run in stream mode. fake_launches() and
// fake_last_stream() report what was launched.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static int ctx_token, mod_token, other_function;
static int add_one_function;
static int launches;
static void* last_stream;

int fake_launches(void) {
  return launches;
}
void* fake_last_stream(void) {
  return last_stream;
}

CUresult cuGetErrorName(CUresult e, const char** s) {
  (void)e;
  *s = "CUDA_ERROR_FAKE";
  return 0;
}
CUresult cuGetErrorString(CUresult e, const char** s) {
  (void)e;
  *s = "fake error";
  return 0;
}
CUresult cuInit(unsigned f) {
  (void)f;
  return 0;
}
CUresult cuDriverGetVersion(int* v) {
  *v = 13000;
  return 0;
}
CUresult cuDeviceGet(int* d, int o) {
  if (o != 0) return 101;
  *d = 0;
  return 0;
}
CUresult cuDeviceGetCount(int* c) {
  *c = 1;
  return 0;
}
CUresult cuDeviceGetName(char* n, int len, int d) {
  (void)d;
  strncpy(n, "Fake GPU sm_90 (host memory)", (size_t)len);
  return 0;
}
CUresult cuDeviceGetAttribute(int* v, int a, int d) {
  (void)d;
  switch (a) {
    case 1:
    case 2:
    case 3:
      *v = 1024;
      break;
    case 4:
      *v = 64;
      break;
    case 5:
      *v = 2147483647;
      break;
    case 6:
    case 7:
      *v = 65535;
      break;
    case 8:
      *v = 49152;
      break;
    case 10:
      *v = 32;
      break;
    case 16:
      *v = 132;
      break;
    case 75:
      *v = 9;
      break;
    case 76:
      *v = 0;
      break;
    case 81:
      *v = 233472;
      break;
    case 97:
      *v = 232448;
      break;
    default:
      *v = 0;
  }
  return 0;
}
CUresult cuDeviceTotalMem_v2(size_t* b, int d) {
  (void)d;
  *b = (size_t)1 << 34;
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int d) {
  (void)d;
  *c = &ctx_token;
  return 0;
}
CUresult cuDevicePrimaryCtxRelease_v2(int d) {
  (void)d;
  return 0;
}
CUresult cuCtxSetCurrent(void* c) {
  (void)c;
  return 0;
}
CUresult cuCtxGetCurrent(void** c) {
  *c = &ctx_token;
  return 0;
}
CUresult cuCtxGetDevice(int* d) {
  *d = 0;
  return 0;
}
CUresult cuCtxPushCurrent_v2(void* c) {
  (void)c;
  return 0;
}
CUresult cuCtxPopCurrent_v2(void** c) {
  if (c) *c = &ctx_token;
  return 0;
}
CUresult cuCtxSynchronize(void) {
  return 0;
}
CUresult cuCtxDestroy_v2(void* c) {
  (void)c;
  return 0;
}
CUresult cuModuleLoadDataEx(void** m, const void* image, unsigned n, int* o,
                            void** v) {
  (void)image;
  (void)n;
  (void)o;
  (void)v;
  *m = &mod_token;
  return 0;
}
CUresult cuModuleUnload(void* m) {
  (void)m;
  return 0;
}
CUresult cuModuleGetFunction(void** f, void* m, const char* name) {
  (void)m;
  *f = strcmp(name, "add_one") == 0 ? (void*)&add_one_function
                                    : (void*)&other_function;
  return 0;
}
CUresult cuFuncGetAttribute(int* v, int a, void* f) {
  (void)f;
  *v = a == 0 ? 1024 : a == 8 ? 49152 : 0;
  return 0;
}
CUresult cuFuncSetAttribute(void* f, int a, int v) {
  (void)f;
  (void)a;
  (void)v;
  return 0;
}
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        void* stream, void** params, void** extra) {
  (void)gx;
  (void)gy;
  (void)gz;
  (void)bx;
  (void)by;
  (void)bz;
  (void)shared;
  (void)extra;
  ++launches;
  last_stream = stream;
  if (f == &add_one_function) {
    const float* x = *(const float* const*)params[0];
    int32_t n = *(const int32_t*)params[1];
    float* y = *(float* const*)params[2];
    for (int32_t i = 0; i < n; ++i) y[i] = x[i] + 1.0f;
  }
  return 0;
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  void* m = malloc(n ? n : 1);
  if (!m) return 2;
  *p = (CUdeviceptr)(uintptr_t)m;
  return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  free((void*)(uintptr_t)p);
  return 0;
}
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) {
  *f = *t = (size_t)1 << 34;
  return 0;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* s, size_t n) {
  memcpy((void*)(uintptr_t)d, s, n);
  return 0;
}
CUresult cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) {
  memcpy(d, (const void*)(uintptr_t)s, n);
  return 0;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n,
                              void* st) {
  (void)st;
  return cuMemcpyHtoD_v2(d, s, n);
}
CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void* st) {
  (void)st;
  return cuMemcpyDtoH_v2(d, s, n);
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n,
                              void* st) {
  (void)st;
  memcpy((void*)(uintptr_t)d, (const void*)(uintptr_t)s, n);
  return 0;
}
CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
  memset((void*)(uintptr_t)d, v, n);
  return 0;
}
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void* s) {
  (void)s;
  return cuMemsetD8_v2(d, v, n);
}
CUresult cuStreamCreate(void** s, unsigned f) {
  (void)f;
  *s = malloc(8);
  return 0;
}
CUresult cuStreamDestroy_v2(void* s) {
  free(s);
  return 0;
}
CUresult cuStreamSynchronize(void* s) {
  (void)s;
  return 0;
}
CUresult cuStreamQuery(void* s) {
  (void)s;
  return 0;
}
CUresult cuStreamWaitEvent(void* s, void* e, unsigned f) {
  (void)s;
  (void)e;
  (void)f;
  return 0;
}
CUresult cuEventCreate(void** e, unsigned f) {
  (void)f;
  *e = malloc(8);
  return 0;
}
CUresult cuEventRecord(void* e, void* s) {
  (void)e;
  (void)s;
  return 0;
}
CUresult cuEventSynchronize(void* e) {
  (void)e;
  return 0;
}
CUresult cuEventQuery(void* e) {
  (void)e;
  return 0;
}
CUresult cuEventElapsedTime_v2(float* ms, void* a, void* b) {
  (void)a;
  (void)b;
  *ms = 0.001f;
  return 0;
}
CUresult cuEventDestroy_v2(void* e) {
  free(e);
  return 0;
}
