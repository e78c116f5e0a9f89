// vaekit native: the op-code enums, built from ops.def (the one list; the JS side reads the same
// list by name from addon.codes).
#pragma once

namespace vaekit {

enum UnaryOp {
#define VK_UNARY(id, kernel) U_##id,
#include "ops.def"
  U_NUM
};

// Float-valued binary ops first, then the comparisons (Uint8Array result): B_NUM_FLOAT separates them.
enum BinaryOp {
#define VK_BINARY(id, kernel) B_##id,
#include "ops.def"
  B_NUM_FLOAT,
#define VK_COMPARE(id, kernel) B_##id,
#include "ops.def"
  B_NUM
};

enum ReduceOp {
#define VK_REDUCE(id, kernel) R_##id,
#include "ops.def"
  R_NUM
};

enum Act {
#define VK_ACT(id, name) A_##id,
#include "ops.def"
  A_NUM
};

enum ConvParam {
#define VK_CONV_PARAM(id) P_##id,
#include "ops.def"
  P_COUNT
};

}  // namespace vaekit
