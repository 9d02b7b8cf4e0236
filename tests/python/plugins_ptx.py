"""A tiny hand-written PTX kernel (x, n, y), as the C tests use."""

SCALE_PTX = """.version 8.0
.target sm_75
.address_size 64
.visible .entry scale(
  .param .u64 scale_param_0,
  .param .u32 scale_param_1,
  .param .u64 scale_param_2
)
{
  ret;
}
"""

# y[i] = x[i] + 1 for i < n: a real kernel with the AOT ABI (x, n, y), for
# the GPU tests.
ADD_ONE_PTX = """.version 7.0
.target sm_70
.address_size 64
.visible .entry add_one(
  .param .u64 x_ptr,
  .param .u32 n,
  .param .u64 y_ptr
)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [x_ptr];
  ld.param.u32 %r1, [n];
  ld.param.u64 %rd2, [y_ptr];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.s32 %p1, %r5, %r1;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd3, %rd1;
  cvta.to.global.u64 %rd4, %rd2;
  mul.wide.s32 %rd5, %r5, 4;
  add.s64 %rd6, %rd3, %rd5;
  ld.global.f32 %f1, [%rd6];
  add.f32 %f2, %f1, 0f3F800000;
  add.s64 %rd7, %rd4, %rd5;
  st.global.f32 [%rd7], %f2;
DONE:
  ret;
}
"""

# The positions of the non-zero elements of x, in order, and their count: one
# thread walks x (launch grid 1, block 1). ABI (x, n, indices, count), count
# int32. For the size tensor tests.
NONZERO_SERIAL_PTX = """.version 7.0
.target sm_70
.address_size 64
.visible .entry nonzero_serial(
  .param .u64 x_ptr,
  .param .u32 n,
  .param .u64 indices_ptr,
  .param .u64 count_ptr
)
{
  .reg .pred %p<3>;
  .reg .b32 %r<4>;
  .reg .f32 %f<2>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [x_ptr];
  ld.param.u32 %r1, [n];
  ld.param.u64 %rd2, [indices_ptr];
  ld.param.u64 %rd3, [count_ptr];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  cvta.to.global.u64 %rd3, %rd3;
  mov.u32 %r2, 0;
  mov.u32 %r3, 0;
LOOP:
  setp.ge.s32 %p1, %r2, %r1;
  @%p1 bra DONE;
  mul.wide.s32 %rd4, %r2, 4;
  add.s64 %rd5, %rd1, %rd4;
  ld.global.f32 %f1, [%rd5];
  setp.eq.f32 %p2, %f1, 0f00000000;
  @%p2 bra NEXT;
  mul.wide.s32 %rd6, %r3, 4;
  add.s64 %rd7, %rd2, %rd6;
  st.global.u32 [%rd7], %r2;
  add.s32 %r3, %r3, 1;
NEXT:
  add.s32 %r2, %r2, 1;
  bra LOOP;
DONE:
  st.global.u32 [%rd3], %r3;
  ret;
}
"""
