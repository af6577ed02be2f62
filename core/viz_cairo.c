#include "viz_internal.h"
tl_status tl_viz_cairo(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                       tl_viz_format fmt, const char *path) {
  (void)root; (void)opts; (void)fmt; (void)path;
  return tl_ctx_fail(ctx, TL_EARG, "cairo view: not yet");
}
