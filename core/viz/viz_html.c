/*
** viz_html.c -- the interactive page: one self-contained HTML file with
** the graphviz view of the graph (SVG, laid out by dot through gvc, see
** viz_graphviz.c) and a small script that steps through the backward pass
** (tl_viz.h, tl_viz_html).
**
** The steps are the trace's (tl_trace.h), the same the cairo step-by-step
** view draws and e:explain() prints: the page is written while one trace
** runs, each step's title, chain-rule lines and the gradients it makes
** known stored as JSON in the page; the script only replays them.  The
** SVG is laid out once, after the last step, so every box is wide enough
** for the gradient it ends with; the script blanks the gradients not known
** at the step shown.  No network, no external script, style or font.
**
** JSON strings are made valid UTF-8 (labels are user data) and '<', '>'
** and '&' are written as \u escapes, so nothing inside the data block can
** end it ("</script>").
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz_internal.h"
#include "../tl_trace.h"

#define LINE_CUT 4000        /* bytes of one caption line kept */

/* {======================================================================
** The page around the data: style, controls, script
** ======================================================================= */

static const char page_head[] =
  "<!DOCTYPE html>\n<html lang=\"en\" data-steps=\"%zu\" data-step=\"0\">\n"
  "<head>\n<meta charset=\"utf-8\">\n"
  "<title>Torchlet: backward, step by step</title>\n<style>\n";

/* One string per line: C11 promises string literals of 4095 bytes only. */
static const char *const page_style[] = {
  "body { font: 14px/1.4 sans-serif; margin: 0; color: #1a1a1a; background: #fff; }\n",
  "#bar { position: sticky; top: 0; background: #f6f6f9; border-bottom: 1px solid #d6d6de; padding: 8px 14px; z-index: 1; }\n",
  "#bar button { font: inherit; padding: 2px 10px; margin-right: 4px; }\n",
  "#pos { margin: 0 10px; font-weight: bold; }\n",
  "#keys { color: #666; font-size: 12px; }\n",
  "#title { margin-top: 6px; font-weight: bold; color: #6a1b9a; }\n",
  "#lines { margin: 4px 0 0; font: 13px/1.4 monospace; white-space: pre-wrap; min-height: 1.4em; }\n",
  "#main { display: flex; align-items: flex-start; }\n",
  "#graph { flex: 1; min-width: 0; overflow: auto; padding: 8px; }\n",
  "#graph svg { height: auto; }\n",
  "#info { width: 320px; flex: none; margin: 8px; padding: 8px 10px; border: 1px solid #d6d6de; background: #fafafc; font-size: 13px; }\n",
  "#info pre { font: 12px/1.4 monospace; white-space: pre-wrap; margin: 4px 0; }\n",
  "#info .rule { color: #6a1b9a; }\n",
  ".node { cursor: pointer; }\n",
  ".node polygon, .node ellipse { stroke: #555; }\n",
  ".k-input polygon { fill: #dbeaff; }\n",
  ".k-param polygon { fill: #fff0c7; }\n",
  ".k-result polygon { fill: #ede8ff; }\n",
  ".done polygon { fill: #eeeeee; }\n",
  ".lg-hot { color: #e65100; } .lg-known { color: #1b5e20; }\n",
  ".lg-done { background: #e4e4e4; padding: 0 3px; }\n",
  ".grad-known text:last-of-type { fill: #1b5e20; font-weight: bold; }\n",
  ".grad-blank text:last-of-type { fill: #999; }\n",
  ".hot polygon, .hot ellipse { fill: #ffcc80; stroke: #e65100; stroke-width: 3px; }\n",
  ".send path { stroke: #e65100; stroke-width: 3px; }\n",
  ".send polygon { stroke: #e65100; fill: #e65100; }\n",
  ".picked polygon, .picked ellipse { stroke: #1565c0; stroke-width: 3px; }\n",
  NULL
};

static const char page_body[] =
  "</style>\n</head>\n<body>\n<div id=\"bar\">\n"
  "<button id=\"first\" title=\"Home\">&#xAB; first</button>"
  "<button id=\"prev\" title=\"left arrow\">&#x25C0; back</button>"
  "<button id=\"next\" title=\"right arrow\">next &#x25B6;</button>"
  "<button id=\"last\" title=\"End\">last &#xBB;</button>"
  "<span id=\"pos\"></span>"
  "<span id=\"keys\">keys &#x2190; &#x2192; Home End; hover over or click a "
  "value for its op's local derivatives. <b class=\"lg-hot\">orange</b>: "
  "this step, <b class=\"lg-known\">green</b>: gradients known so far, "
  "<span class=\"lg-done\">grey</span>: passed on</span>\n"
  "<div id=\"title\"></div>\n<pre id=\"lines\"></pre>\n</div>\n"
  "<div id=\"main\">\n<div id=\"graph\">\n";

static const char page_tail_open[] =
  "</div>\n<div id=\"info\">Hover over or click a value: what it is, its "
  "op's local derivatives, and its step of backward in numbers.</div>\n"
  "</div>\n<script type=\"application/json\" id=\"tl-data\">";

static const char page_script_open[] = "</script>\n<script>\n";

static const char *const page_script[] = {
  "(function () {\n",
  "  \"use strict\";\n",
  "  var D = JSON.parse(document.getElementById(\"tl-data\").textContent);\n",
  "  var N = D.steps.length, cur = -1, picked = -1;\n",
  "  var root = document.documentElement;\n",
  "  function $(id) { return document.getElementById(id); }\n",
  "  // the drawn parts of each value: its boxes (a value and its dashed\n",
  "  // copies), the text of their gradients, its op's ellipse\n",
  "  var boxes = [], grads = [], ops = [], edges = [];\n",
  "  var gs = document.querySelectorAll(\"#graph g\");\n",
  "  for (var j = 0; j < gs.length; j++) {\n",
  "    var g = gs[j], m = /^v(\\d+)(_op|_out|_copy\\d+)?$/.exec(g.id), e = /^e(\\d+)$/.exec(g.id);\n",
  "    if (e) { edges[+e[1]] = g; continue; }\n",
  "    if (!m) continue;\n",
  "    var i = +m[1], t = g.getElementsByTagName(\"title\")[0];\n",
  "    if (m[2] === \"_out\") { (boxes[i] = boxes[i] || []).out = g; continue; }\n",
  "    if (t) t.textContent = (m[2] === \"_op\" ? D.nodes[i].op + \" making \" : \"\") + D.nodes[i].name;\n",
  "    if (m[2] === \"_op\") ops[i] = g;\n",
  "    else {\n",
  "      var ts = g.getElementsByTagName(\"text\");\n",
  "      (boxes[i] = boxes[i] || []).push(g);\n",
  "      (grads[i] = grads[i] || []).push(ts[ts.length - 1]);\n",
  "      g.classList.add(\"k-\" + D.nodes[i].kind);\n",
  "    }\n",
  "    g.addEventListener(\"mouseenter\", info.bind(null, i, false));\n",
  "    g.addEventListener(\"click\", info.bind(null, i, true));\n",
  "  }\n",
  "  // the graph fills its pane, at most 1.5 times graphviz's size and at\n",
  "  // least 0.6 times (then the pane scrolls)\n",
  "  var svg = document.querySelector(\"#graph svg\");\n",
  "  if (svg) {\n",
  "    var w = svg.width.baseVal.value, cw = $(\"graph\").clientWidth - 16;\n",
  "    svg.style.width = Math.max(Math.min(1.5 * w, cw), 0.6 * w) + \"px\";\n",
  "  }\n",
  "  function set(list, cls, on) {\n",
  "    for (var k = 0; list && k < list.length; k++) list[k].classList.toggle(cls, on);\n",
  "  }\n",
  "  // step k: the first k steps of the pass have run (0: none yet)\n",
  "  function show(k) {\n",
  "    k = Math.max(0, Math.min(N, k | 0));\n",
  "    var known = [], when = [], i, s;\n",
  "    for (s = 0; s < k; s++) {\n",
  "      var g = D.steps[s].g;\n",
  "      for (var q = 0; q < g.length; q++) known[g[q][0]] = g[q][1];\n",
  "      when[D.steps[s].n] = s + 1;\n",
  "    }\n",
  "    var hot = k > 0 ? D.steps[k - 1].n : -1;\n",
  "    for (i = 0; i < D.nodes.length; i++) {\n",
  "      var txt = known[i] !== undefined ? known[i] : \"grad\";\n",
  "      for (s = 0; grads[i] && s < grads[i].length; s++) grads[i][s].textContent = txt;\n",
  "      set(boxes[i], \"grad-known\", known[i] !== undefined);\n",
  "      set(boxes[i], \"grad-blank\", known[i] === undefined);\n",
  "      set(boxes[i], \"hot\", i === hot);\n",
  "      set(boxes[i], \"done\", when[i] !== undefined && i !== hot);\n",
  "      if (ops[i]) ops[i].classList.toggle(\"hot\", i === hot && k > 1);\n",
  "      if (boxes[i] && boxes[i].out) boxes[i].out.classList.toggle(\"send\", i === hot && k > 1);\n",
  "    }\n",
  "    for (i = 0; i < D.edges.length; i++)\n",
  "      if (edges[i]) edges[i].classList.toggle(\"send\", k > 1 && D.edges[i][1] === hot);\n",
  "    $(\"title\").textContent = k > 0 ? D.steps[k - 1].t\n",
  "      : \"Before backward: the forward pass is done, no gradient is known yet (\" + N + \" steps to go)\";\n",
  "    $(\"lines\").textContent = k > 0 ? D.steps[k - 1].x : \"\";\n",
  "    $(\"pos\").textContent = \"step \" + k + \" of \" + N;\n",
  "    $(\"prev\").disabled = k === 0;\n",
  "    $(\"next\").disabled = k === N;\n",
  "    root.setAttribute(\"data-step\", String(k));\n",
  "    cur = k;\n",
  "    // a big graph scrolls: bring the step's node into view\n",
  "    if (hot >= 0 && boxes[hot] && boxes[hot][0].scrollIntoView)\n",
  "      boxes[hot][0].scrollIntoView({ block: \"nearest\", inline: \"nearest\" });\n",
  "    if (picked >= 0) info(picked, true);\n",
  "    try { history.replaceState(null, \"\", \"#step=\" + k); } catch (err) { /* file: may refuse */ }\n",
  "  }\n",
  "  // what a value is, its op's local derivatives, and its step in numbers\n",
  "  function info(i, pin) {\n",
  "    if (!pin && picked >= 0) return;\n",
  "    if (pin) {\n",
  "      if (picked >= 0) set(boxes[picked], \"picked\", false);\n",
  "      picked = i;\n",
  "      set(boxes[i], \"picked\", true);\n",
  "    }\n",
  "    var n = D.nodes[i], out = [];\n",
  "    out.push(n.name + (n.kind === \"result\" ? \" = \" + n.op + \"(\" + n.inputs.join(\", \") + (n.nin > n.inputs.length ? \", ...\" : \"\") + \")\" : \" (\" + n.kind + \")\"));\n",
  "    out.push(n.data);\n",
  "    var s, now = \"grad (not known yet)\";\n",
  "    for (s = 0; s < cur; s++)\n",
  "      for (var q = 0; q < D.steps[s].g.length; q++)\n",
  "        if (D.steps[s].g[q][0] === i) now = D.steps[s].g[q][1];\n",
  "    out.push(\"now: \" + now, \"after the whole pass: \" + n.grad);\n",
  "    var h = $(\"info\");\n",
  "    h.textContent = \"\";\n",
  "    var p = document.createElement(\"pre\");\n",
  "    p.textContent = out.join(\"\\n\");\n",
  "    h.appendChild(p);\n",
  "    var r = document.createElement(\"pre\");\n",
  "    r.className = \"rule\";\n",
  "    r.textContent = n.kind === \"result\" ? rule(n)\n",
  "      : \"a leaf: backward ends here; its gradient is the sum of what its users send\";\n",
  "    h.appendChild(r);\n",
  "    if (n.step > 0) {\n",
  "      var x = document.createElement(\"pre\");\n",
  "      x.textContent = \"at step \" + n.step + \" of \" + N + (n.step <= cur ? \"\" : \" (not run yet)\") + \":\\n\" + D.steps[n.step - 1].x;\n",
  "      h.appendChild(x);\n",
  "    }\n",
  "    root.setAttribute(\"data-node\", String(i + 1));\n",
  "  }\n",
  "  // the op's rule (the 'grad' column of core/tl_ops.h), one line per input:\n",
  "  // \"a.grad += g * b\", then what its letters stand for\n",
  "  function rule(n) {\n",
  "    var parts = n.rule.split(\"; \"), lines = [\"local derivatives of \" + n.op + \":\"];\n",
  "    var letter = { g: \"g\", a: \"a\", b: \"b\", out: \"out\", k: \"k\", n: \"n\", row: \"r\", i: \"i\", w: \"W[r, i]\", xs: \"xs\" };\n",
  "    var used = {};\n",
  "    function words(p) {\n",
  "      return p.replace(/\\$([a-z]+)/g, function (all, w) { used[w] = true; return letter[w] || w; });\n",
  "    }\n",
  "    for (var j = 0; j < n.nin && j < 6; j++)\n",
  "      lines.push((n.inputs[j] || \"x\" + (j + 1)) + \".grad += \" + words(parts[Math.min(j, parts.length - 1)]));\n",
  "    if (n.nin > 6) lines.push(\"... \" + n.nin + \" inputs in all\");\n",
  "    var where = {\n",
  "      g: \"g = \" + n.name + \".grad (arriving)\",\n",
  "      a: \"a = \" + n.inputs[0] + \".data\", b: \"b = \" + n.inputs[1] + \".data\",\n",
  "      out: \"out = \" + n.name + \".data\", k: \"k = the op's constant (on its node)\",\n",
  "      n: \"n = the count averaged over\", row: \"r = the row it makes\",\n",
  "      i: \"i = the input's position\", w: \"W[r, i] = the weight of input i\",\n",
  "      xs: \"xs = its inputs\"\n",
  "    };\n",
  "    var first = true;\n",
  "    for (var w in where)\n",
  "      if (used[w]) { lines.push((first ? \"where \" : \"      \") + where[w]); first = false; }\n",
  "    return lines.join(\"\\n\");\n",
  "  }\n",
  "  function key(ev) {\n",
  "    var k = { ArrowRight: cur + 1, ArrowDown: cur + 1, \" \": cur + 1, ArrowLeft: cur - 1, ArrowUp: cur - 1, Home: 0, End: N }[ev.key];\n",
  "    if (k === undefined) return;\n",
  "    ev.preventDefault();\n",
  "    show(k);\n",
  "  }\n",
  "  document.addEventListener(\"keydown\", key);\n",
  "  $(\"first\").onclick = function () { show(0); };\n",
  "  $(\"prev\").onclick = function () { show(cur - 1); };\n",
  "  $(\"next\").onclick = function () { show(cur + 1); };\n",
  "  $(\"last\").onclick = function () { show(N); };\n",
  "  // #step=3 selects a step; for scripted checks, &keys=ArrowRight,...\n",
  "  // presses keys, &click=next,... clicks buttons, &node=2 picks the value\n",
  "  // at that position (1-based, as \"mul#2\")\n",
  "  function fragment() {\n",
  "    var f = {}, parts = location.hash.replace(/^#/, \"\").split(\"&\");\n",
  "    for (var q = 0; q < parts.length; q++) {\n",
  "      var kv = parts[q].split(\"=\");\n",
  "      if (kv.length === 2) f[kv[0]] = decodeURIComponent(kv[1]);\n",
  "    }\n",
  "    return f;\n",
  "  }\n",
  "  var f = fragment();\n",
  "  show(f.step !== undefined ? +f.step : 0);\n",
  "  if (f.keys) f.keys.split(\",\").forEach(function (k) {\n",
  "    document.dispatchEvent(new KeyboardEvent(\"keydown\", { key: k, bubbles: true }));\n",
  "  });\n",
  "  if (f.click) f.click.split(\",\").forEach(function (b) { if ($(b)) $(b).click(); });\n",
  "  if (f.node && D.nodes[+f.node - 1]) info(+f.node - 1, true);\n",
  "  window.addEventListener(\"hashchange\", function () {\n",
  "    var s = fragment().step;\n",
  "    if (s !== undefined && +s !== cur) show(+s);\n",
  "  });\n",
  "}());\n",
  NULL
};

static const char page_end[] = "</script>\n</body>\n</html>\n";

/* }====================================================================== */

/* {======================================================================
** Text: a growing buffer, JSON strings
** ======================================================================= */

/* 'failed' sticks after a short allocation. */
typedef struct sbuf { char *p; size_t len, cap; int failed; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) { b->failed = 1; return; }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof buf) b->failed = 1;   /* short formats only */
  else sb_add(b, buf, (size_t)n);
}

/* One line of text, made valid UTF-8 and cut (tl__vtext_clean), escaped
** for a JSON string. */
static void json_line(sbuf *b, const char *s, size_t len) {
  char line[LINE_CUT + 8], clean[LINE_CUT + 8];
  size_t keep = len < LINE_CUT ? len : LINE_CUT;
  memcpy(line, s, keep);
  line[keep] = '\0';
  tl__vtext_clean(line, clean, sizeof clean, LINE_CUT);
  for (const char *c = clean; *c; c++) {
    unsigned char u = (unsigned char)*c;
    if (u == '"' || u == '\\') { char e[2] = {'\\', *c}; sb_add(b, e, 2); }
    else if (u < 0x20 || u == '<' || u == '>' || u == '&') sb_printf(b, "\\u%04x", u);
    else sb_add(b, c, 1);
  }
}

/* "text" as a JSON string, its lines joined by \n. */
static void json_str(sbuf *b, const char *text) {
  sb_puts(b, "\"");
  for (int first = 1;; first = 0) {
    size_t len = strcspn(text, "\n");
    if (!first) sb_puts(b, "\\n");
    json_line(b, text, len);
    if (text[len] == '\0') break;
    text += len + 1;
  }
  sb_puts(b, "\"");
}

/* }====================================================================== */

/* {======================================================================
** The data: steps from one trace, the values, the edges
** ======================================================================= */

typedef struct ptr_index { uintptr_t p; size_t i; } ptr_index;

static int cmp_ptr_index(const void *a, const void *b) {
  uintptr_t x = ((const ptr_index *)a)->p, y = ((const ptr_index *)b)->p;
  return (x > y) - (x < y);
}

/* The index in the snapshot of 'x' (a value of it). */
static size_t index_of(const ptr_index *tab, size_t n, const tl_node *x) {
  ptr_index key = {(uintptr_t)x, 0};
  const ptr_index *hit = bsearch(&key, tab, n, sizeof *tab, cmp_ptr_index);
  return hit ? hit->i : SIZE_MAX;
}

/* Appends to 'b' the gradient of value 'i' as the page shows it:
** [i, "grad 3.0000"]. */
static void json_grad(sbuf *b, const tl__vgraph *g, size_t i, int comma) {
  char grad[96];
  tl__vtext_grad(g->nodes[i], grad, sizeof grad);
  sb_printf(b, "%s[%zu,", comma ? "," : "", i);
  json_str(b, grad);
  sb_puts(b, "]");
}

static const char *const kind_name[3] = {"input", "param", "result"};
#define INPUT_NAMES 7          /* input names kept per value */

/* The values, once every step ran: names, kinds, ops and rules, data and
** final gradients, the step each is processed at ('step', 0 for leaves). */
static void json_nodes(sbuf *b, const tl__vgraph *g, const tl_trace *tr,
                       const size_t *step) {
  char nm[96], text[96];
  sb_puts(b, "\"nodes\":[");
  for (size_t i = 0; i < g->n; i++) {
    tl_node *x = g->nodes[i];
    size_t nin = tl_ninputs(x);
    sb_puts(b, i ? ",\n{\"name\":" : "\n{\"name\":");
    json_str(b, tl_trace_name(tr, x, nm, sizeof nm));
    sb_printf(b, ",\"kind\":\"%s\",\"op\":", kind_name[g->kind[i]]);
    json_str(b, nin ? tl_node_op_name(x) : "");
    sb_puts(b, ",\"rule\":");
    json_str(b, nin ? tl_op_grad_text(tl_op_of(x)) : "");
    sb_printf(b, ",\"nin\":%zu,\"inputs\":[", nin);
    for (size_t k = 0; k < nin && k < INPUT_NAMES; k++) {
      if (k) sb_puts(b, ",");
      json_str(b, tl_trace_name(tr, tl_input(x, k), nm, sizeof nm));
    }
    sb_puts(b, "],\"data\":");
    tl__vtext_data(x, text, sizeof text);
    json_str(b, text);
    sb_puts(b, ",\"grad\":");
    if (tl_has_grads(x)) tl__vtext_grad(x, text, sizeof text);
    else snprintf(text, sizeof text, "grad none (needs none)");
    json_str(b, text);
    sb_printf(b, ",\"step\":%zu}", step[i]);
  }
  sb_puts(b, "],\n");
}

static void json_edges(sbuf *b, const tl__vgraph *g) {
  sb_puts(b, "\"edges\":[");
  for (size_t e = 0; e < g->ne; e++)
    sb_printf(b, "%s[%zu,%zu]", e ? "," : "", g->edges[e].from, g->edges[e].to);
  sb_puts(b, "]}");
}

/* Runs the trace of 'root' over the snapshot 'g': the steps as JSON into
** 'b', then, with every gradient of the pass known, the values and edges,
** and the SVG into *svg; puts the gradients back.  *nsteps: the steps. */
static tl_status gather(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                        const tl__vgraph *g, size_t max_nodes, sbuf *b,
                        char **svg, size_t *svg_len, size_t *nsteps) {
  ptr_index *tab = malloc((g->n ? g->n : 1) * sizeof *tab);
  size_t *step = calloc(g->n ? g->n : 1, sizeof *step);
  size_t *seen = calloc(g->n ? g->n : 1, sizeof *seen);  /* step that listed it */
  tl_trace *tr = NULL;
  tl_status st = TL_OK;
  if (tab == NULL || step == NULL || seen == NULL)
    st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  else st = tl_trace_new_for(ctx, root, "html", &tr);
  if (st != TL_OK) { free(tab); free(step); free(seen); return st; }
  for (size_t i = 0; i < g->n; i++) tab[i] = (ptr_index){(uintptr_t)g->nodes[i], i};
  qsort(tab, g->n, sizeof *tab, cmp_ptr_index);
  char title[256];
  size_t k = 0;
  int r;
  sb_puts(b, "{\"steps\":[");
  while ((r = tl_trace_next(ctx, tr)) == 1) {
    tl_node *n = tl_trace_node(tr);
    size_t hot = index_of(tab, g->n, n);
    if (hot == SIZE_MAX) {      /* cannot be: the trace walks the same graph */
      r = -1;
      tl_ctx_fail(ctx, TL_EARG, "html: the trace left the graph");
      break;
    }
    tl__vstep_title(title, sizeof title, tr, ++k, tl_trace_count(tr));
    sb_puts(b, k > 1 ? ",\n{\"t\":" : "\n{\"t\":");
    json_str(b, title);
    sb_puts(b, ",\"x\":");
    json_str(b, tl_trace_text(tr));
    sb_printf(b, ",\"n\":%zu,\"g\":[", hot);
    if (k == 1) json_grad(b, g, hot, 0);     /* the seed */
    else {
      step[hot] = k;
      int comma = 0;
      for (size_t j = 0; j < tl_ninputs(n); j++) {
        size_t i = index_of(tab, g->n, tl_input(n, j));
        if (i == SIZE_MAX || seen[i] == k || !tl_has_grads(g->nodes[i])) continue;
        seen[i] = k;
        json_grad(b, g, i, comma);
        comma = 1;
      }
    }
    sb_puts(b, "]}");
  }
  sb_puts(b, "],\n");
  if (r == 0) {
    json_nodes(b, g, tr, step);
    json_edges(b, g);
    st = tl__gv_svg(ctx, gv, g, tr, max_nodes, svg, svg_len);
  } else st = TL_ENOMEM;             /* the trace set the error */
  tl_trace_free(ctx, tr);
  free(tab);
  free(step);
  free(seen);
  if (st == TL_OK && b->failed)
    st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  *nsteps = k;
  return st;
}

/* }====================================================================== */

/* The SVG without graphviz's XML prolog and doctype, which HTML does not
** take: from "<svg" on. */
static const char *svg_element(const char *svg) {
  const char *p = strstr(svg, "<svg");
  return p ? p : svg;
}

static tl_status write_lines(tl_ctx *ctx, tl__out *out, const char *const *lines) {
  tl_status st = TL_OK;
  for (size_t i = 0; lines[i] != NULL && st == TL_OK; i++)
    st = tl__out_write(ctx, out, lines[i], strlen(lines[i]));
  return st;
}

tl_status tl_viz_html(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                      const tl_viz_opts *opts, const char *file,
                      size_t *nsteps) {
  *nsteps = 0;
  if (gv == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "html: session expected, got NULL");
  if (file == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "html: path expected, got NULL");
  size_t limit = opts && opts->max_nodes ? opts->max_nodes : TL_VIZ_GRAPHVIZ_MAX_NODES;
  tl__vgraph g;
  tl_status st = tl__vgraph_build(ctx, root, opts, limit, "html", &g);
  if (st != TL_OK) return st;
  /* open first: an unwritable path fails before the trace and the layout */
  tl__out out;
  st = tl__out_open(ctx, &out, file);
  if (st != TL_OK) { tl__vgraph_free(&g); return st; }
  sbuf data = {0};
  char *svg = NULL;
  size_t svg_len = 0, count = 0;
  st = gather(ctx, gv, root, &g, limit, &data, &svg, &svg_len, &count);
  if (st == TL_OK) {
    char head[sizeof page_head + 32];
    snprintf(head, sizeof head, page_head, count);
    const char *parts[] = {head, NULL};
    st = write_lines(ctx, &out, parts);
    if (st == TL_OK) st = write_lines(ctx, &out, page_style);
    const char *const mid[] = {page_body, svg_element(svg), page_tail_open,
                               data.p, page_script_open, NULL};
    if (st == TL_OK) st = write_lines(ctx, &out, mid);
    if (st == TL_OK) st = write_lines(ctx, &out, page_script);
    const char *const end[] = {page_end, NULL};
    if (st == TL_OK) st = write_lines(ctx, &out, end);
  }
  free(svg);
  free(data.p);
  tl__vgraph_free(&g);
  if (st != TL_OK) { tl__out_abort(&out); return st; }
  st = tl__out_commit(ctx, &out);
  if (st == TL_OK) *nsteps = count;
  return st;
}
