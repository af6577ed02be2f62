/*
** tl_ops.h -- every op of the core, declared once.  Included by torchlet.h.
**
** TL_OP_LIST(X) calls X once per op, in the order of enum tl_op:
**
**   X(ID, name, symbol, arity, flags, method, rule, grad)
**
**   ID      the enum suffix: TL_OP_ID
**   name    for errors and Lua's e.op ("" for a leaf); ops that differ only
**           in where a number goes share it (ADD, ADD_K: "add")
**   symbol  drawn on the op's node (tl_op_label): "+", then "+ 2" for ADD_K
**   arity   inputs that are nodes: 0, 1, 2 (held in the node), or
**           TL_NARY (any count, held out of line: three or more inputs,
**           W, x and b say, make an op TL_NARY)
**   flags   TL_OPF_* below, or 0
**   method  the name of the Lua method that makes it (x:exp()), or NULL;
**           bindings/element.c registers one per op from this column
**   rule    the math, one of
**             EW(f, da, db)  elementwise: f(a, b) is the value, da and db
**                            what input a and b receive from the gradient
**                            (db NULL for one input); static functions in
**                            core/ops.c, written right above the table
**             BW(fwd, bwd)   any other op: void fwd(tl_ctx *, tl_node *n)
**                            computes n's value from its inputs' current
**                            values into n's buffer, already allocated
**                            (no allocation: compiled steps replay it,
**                            core/compile.c); void bwd(tl_ctx *, tl_node *n)
**                            adds n's gradient into its inputs.  Both are
**                            declared from this list (core/internal.h), so
**                            they are tl__ names (tl__<op>_fwd,
**                            tl__<op>_b) defined in a core file next to
**                            the op's constructor, which checks the
**                            arguments, allocates the node, sets what fwd
**                            reads from the node (n->k, the input list),
**                            calls fwd and ends in tl__record
**   grad    the rule as text, for e:explain() and the step-by-step view
**           (core/trace.c): what each input receives, one part per input
**           separated by "; " (the last part serves the remaining inputs of
**           an n-ary op).  Placeholders: $g the gradient arriving at the
**           op's result, $out its value, $a $b the first and second
**           inputs' values, $k the op constant, $n the count averaged over,
**           $row the row (1-based), $i the input's position (1-based), $w
**           the weight W[row, i] of a neuron's input, $xs a neuron's
**           inputs (the first four), $op a custom op's own name.
**           spec/ops_spec.lua
**           checks that every op but the leaf has one.
**
** Each file that expands the list defines X (and EW, BW where it reads the
** rule) and #undefs them after.  What is generated from the list: enum
** tl_op (torchlet.h), the op table that backward, labels and errors read
** (core/ops.c), the backward rules' prototypes (core/internal.h), the Lua
** methods and torchlet.ops() (bindings/element.c), the fuzz harness's op
** families (spec/fuzz/fuzz_ops.c, through tl_op_arity and tl_op_flags).
**
** Adding an op: append a row at the end of the list (nothing stores op
** codes, so order is free; appending keeps merges small), write
** its functions (EW: f and derivatives in core/ops.c; BW: constructor,
** forward and backward side by side in a core file, the constructor
** calling the forward and ending in tl__record), write its rule as text
** (the grad column), declare the constructor in a public header, call it
** from tl_replay (core/custom.c, for gradcheck; BW ops only, EW ones are
** found by their flags), and give it a recipe in spec/ops_spec.lua, which
** fails for an op without one (or without rule text, or whose
** e:explain() leaves a placeholder unfilled, or that tl_replay cannot
** run), and one in spec/compile_spec.lua, which checks that a compiled
** replay gives the eager values and gradients bit for bit.
*/
#ifndef TORCHLET_TL_OPS_H
#define TORCHLET_TL_OPS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Arity of an op taking any number of inputs. */
#define TL_NARY (-1)

/* Op flags. */
enum {
  TL_OPF_K     = 0x01,  /* takes a number, the op constant k: a + 2 */
  TL_OPF_KLEFT = 0x02,  /* with TL_OPF_K: the number is on the left, 2 - a */
  TL_OPF_AXIS  = 0x04,  /* a reduction; k is the axis (0-based; -1: all) */
  TL_OPF_INDEX = 0x08,  /* k is a position along the first axis (0-based) */
  TL_OPF_ARRAY = 0x10,  /* takes arrays only (elementwise ops take both) */
  TL_OPF_EW    = 0x20   /* elementwise: set by tl_op_flags for EW rows,
                        ** never written in a row */
};

#define TL__K  TL_OPF_K
#define TL__KL (TL_OPF_K | TL_OPF_KLEFT)
#define TL__AR TL_OPF_ARRAY

#define TL_OP_LIST(X) \
  /* no inputs: made by tl_leaf, tl_detach, or by any op in no-grad */ \
  X(LEAF,        "",          "",          0,       0,      NULL,       EW(NULL, NULL, NULL), \
    "") \
  /* a . b */ \
  X(ADD,         "add",       "+",         2,       0,      NULL,       EW(add_f, pass, pass), \
    "$g; $g") \
  X(SUB,         "sub",       "-",         2,       0,      NULL,       EW(sub_f, pass, negated), \
    "$g; -$g") \
  X(MUL,         "mul",       "*",         2,       0,      NULL,       EW(mul_f, mul_ga, mul_gb), \
    "$g * $b; $g * $a") \
  X(DIV,         "div",       "/",         2,       0,      NULL,       EW(div_f, div_ga, div_gb), \
    "$g / $b; -$g * $out / $b") \
  X(POW,         "pow",       "^",         2,       0,      NULL,       EW(pow_f, pow_ga, pow_gb), \
    "$g * $b * $a^($b - 1); $g * $out * log($a)") \
  /* a + k, a - k, a * k, a / k */ \
  X(ADD_K,       "add",       "+",         1,       TL__K,  NULL,       EW(add_f, pass, NULL), \
    "$g") \
  X(SUB_K,       "sub",       "-",         1,       TL__K,  NULL,       EW(sub_f, pass, NULL), \
    "$g") \
  X(MUL_K,       "mul",       "*",         1,       TL__K,  NULL,       EW(mul_f, mul_ga, NULL), \
    "$g * $k") \
  X(DIV_K,       "div",       "/",         1,       TL__K,  NULL,       EW(div_f, div_ga, NULL), \
    "$g / $k") \
  /* k - a, k / a, a ^ k, k ^ a */ \
  X(RSUB_K,      "sub",       "-",         1,       TL__KL, NULL,       EW(rsub_f, negated, NULL), \
    "-$g") \
  X(RDIV_K,      "div",       "/",         1,       TL__KL, NULL,       EW(rdiv_f, rdiv_ga, NULL), \
    "-$g * $out / $a") \
  X(POW_K,       "pow",       "^",         1,       TL__K,  NULL,       EW(powk_f, powk_ga, NULL), \
    "$g * $k * $a^($k - 1)") \
  X(RPOW_K,      "pow",       "^",         1,       TL__KL, NULL,       EW(rpow_f, rpow_ga, NULL), \
    "$g * $out * log($k)") \
  /* f(a) */ \
  X(NEG,         "neg",       "neg",       1,       0,      "neg",      EW(neg_f, negated, NULL), \
    "-$g") \
  X(EXP,         "exp",       "exp",       1,       0,      "exp",      EW(exp_f, exp_ga, NULL), \
    "$g * $out") \
  X(LOG,         "log",       "log",       1,       0,      "log",      EW(log_f, log_ga, NULL), \
    "$g / $a") \
  X(TANH,        "tanh",      "tanh",      1,       0,      "tanh",     EW(tanh_f, tanh_ga, NULL), \
    "$g * (1 - $out^2)") \
  X(SIGMOID,     "sigmoid",   "sigmoid",   1,       0,      "sigmoid",  EW(sigmoid_f, sigmoid_ga, NULL), \
    "$g * $out * (1 - $out)") \
  X(RELU,        "relu",      "ReLU",      1,       0,      "relu",     EW(relu_f, relu_ga, NULL), \
    "$g * ($out > 0)") \
  X(SQRT,        "sqrt",      "sqrt",      1,       0,      "sqrt",     EW(sqrt_f, sqrt_ga, NULL), \
    "$g / (2 * $out)") \
  X(ABS,         "abs",       "abs",       1,       0,      "abs",      EW(abs_f, abs_ga, NULL), \
    "$g * sign($a)") \
  X(SIN,         "sin",       "sin",       1,       0,      "sin",      EW(sin_f, sin_ga, NULL), \
    "$g * cos($a)") \
  X(COS,         "cos",       "cos",       1,       0,      "cos",      EW(cos_f, cos_ga, NULL), \
    "$g * -sin($a)") \
  /* log(1 + exp(a)), computed without overflow */ \
  X(SOFTPLUS,    "softplus",  "softplus",  1,       0,      "softplus", EW(softplus_f, softplus_ga, NULL), \
    "$g * sigmoid($a)") \
  /* arrays (core/array_ops.c) */ \
  X(REDUCE_SUM,  "sum",       "sum",       1,       TL__AR | TL_OPF_AXIS, "sum",  BW(tl__reduce_fwd, tl__reduce_b), \
    "expand($g)") \
  X(REDUCE_MEAN, "mean",      "mean",      1,       TL__AR | TL_OPF_AXIS, "mean", BW(tl__reduce_fwd, tl__reduce_b), \
    "expand($g) / $n") \
  X(REDUCE_MAX,  "max",       "max",       1,       TL__AR | TL_OPF_AXIS, "max",  BW(tl__reduce_fwd, tl__reduce_b), \
    "$g where $a == $out") \
  X(MATMUL,      "matmul",    "@",         2,       TL__AR, "matmul",   BW(tl__matmul_fwd, tl__matmul_b), \
    "$g @ $b^T; $a^T @ $g") \
  X(TRANSPOSE,   "transpose", "T",         1,       TL__AR, "transpose", BW(tl__transpose_fwd, tl__transpose_b), \
    "$g^T") \
  X(RESHAPE,     "reshape",   "reshape",   1,       TL__AR, "reshape",  BW(tl__reshape_fwd, tl__reshape_b), \
    "reshape($g)") \
  /* a[k]: a row of a matrix, an element of a vector (Lua: x[i]) */ \
  X(INDEX,       "index",     "[]",        1,       TL__AR | TL_OPF_INDEX, NULL, BW(tl__index_fwd, tl__index_b), \
    "$g into row $row") \
  /* scalars gathered into an array */ \
  X(STACK,       "stack",     "stack",     TL_NARY, 0,      NULL,       BW(tl__stack_fwd, tl__stack_b), \
    "$g[$i]") \
  /* fused model and loss ops (core/nn_ops.c): W[k].x + b[k] over inputs \
  ** W, b, x... (k the row); X W^T + b over X, W, b; the mean softmax \
  ** cross-entropy of (N x K) logits */ \
  X(NEURON_ROW,  "neuron",    "w.x+b",     TL_NARY, 0,      NULL,       BW(tl__neuron_row_fwd, tl__neuron_row_b), \
    "$g * ($xs) into row $row; $g into [$row]; $g * $w") \
  X(LINEAR,      "linear",    "xW'+b",     TL_NARY, TL__AR, NULL,       BW(tl__linear_fwd, tl__linear_b), \
    "$g @ $b; $g^T @ $a; column sums of $g") \
  X(CROSS_ENTROPY, "cross_entropy", "cross-entropy", TL_NARY, TL__AR, NULL, BW(tl__cross_entropy_fwd, tl__cross_entropy_b), \
    "(softmax($a) - onehot(class)) * $g / $n") \
  /* a's values in another dtype (k: the tl_dtype); drawn "to float32" */ \
  X(TO_DTYPE,    "to",        "to",        1,       TL__AR, NULL,       BW(tl__to_dtype_fwd, tl__to_dtype_b), \
    "$g") \
  /* activations of torchlet.nn's modules: GELU (erf form), leaky ReLU \
  ** with the slope below 0 as k */ \
  X(GELU,        "gelu",      "GELU",      1,       0,      "gelu",     EW(gelu_f, gelu_ga, NULL), \
    "$g * (Phi($a) + $a * phi($a))") \
  X(LEAKY_RELU_K, "leaky_relu", "leaky",   1,       TL__K,  "leaky_relu", EW(leaky_f, leaky_ga, NULL), \
    "$g * ($a > 0 ? 1 : $k)") \
  /* an op whose forward and backward are callbacks (core/custom.c, \
  ** tl_custom.h): drawn and named by its own name ($op) */ \
  X(CUSTOM,      "custom",    "custom",    TL_NARY, 0,      NULL,       BW(tl__custom_fwd, tl__custom_b), \
    "$op.backward($g)[$i]") \
  /* core/ops_extra.c: min and logsumexp (reductions, through tl_reduce), \
  ** softmax and log_softmax along axis k, clamp's two halves (Lua's \
  ** x:clamp(lo, hi) makes one or both), concatenation along axis k, a \
  ** slice (k: start * TL_MAX_DIMS + axis) */ \
  X(REDUCE_MIN,  "min",       "min",       1,       TL__AR | TL_OPF_AXIS, "min", BW(tl__reduce_min_fwd, tl__reduce_min_b), \
    "$g where $a == $out") \
  X(LOGSUMEXP,   "logsumexp", "logsumexp", 1,       TL__AR | TL_OPF_AXIS, "logsumexp", BW(tl__logsumexp_fwd, tl__logsumexp_b), \
    "expand($g) * exp($a - $out)") \
  X(SOFTMAX,     "softmax",   "softmax",   1,       TL__AR, "softmax",  BW(tl__softmax_fwd, tl__softmax_b), \
    "$out * ($g - sum($g * $out))") \
  X(LOG_SOFTMAX, "log_softmax", "log_softmax", 1,   TL__AR, "log_softmax", BW(tl__log_softmax_fwd, tl__log_softmax_b), \
    "$g - exp($out) * sum($g)") \
  X(CLAMP_MIN_K, "clamp_min", "clamp_min", 1,       TL__K,  NULL,       EW(clamp_min_f, clamp_min_ga, NULL), \
    "$g * ($a >= $k)") \
  X(CLAMP_MAX_K, "clamp_max", "clamp_max", 1,       TL__K,  NULL,       EW(clamp_max_f, clamp_max_ga, NULL), \
    "$g * ($a <= $k)") \
  X(CAT,         "cat",       "cat",       TL_NARY, TL__AR, NULL,       BW(tl__cat_fwd, tl__cat_b), \
    "the block of $g that input $i gave") \
  X(NARROW,      "narrow",    "narrow",    1,       TL__AR, "narrow",   BW(tl__narrow_fwd, tl__narrow_b), \
    "$g into the slice")

#ifdef __cplusplus
}
#endif

#endif
