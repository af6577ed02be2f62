/*
** safetensors_header.c -- a strict parser of a safetensors header, the
** JSON object
**
**   {"__metadata__": {"key": "value", ...},
**    "NAME": {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 48]},
**    ...}
**
** and nothing more of JSON: the parser follows this one schema (no
** recursion, no generic tree), so a value of another kind (a float, a
** negative number, true, null, a nested object where a string belongs) is
** refused where it stands, with the byte it was found at.  Strings accept
** every JSON escape (\u0000 excepted: names are C strings here).  Keys may
** come in any order; a repeated key or tensor name, an unknown key in a
** tensor's entry, or a missing one is an error, as is anything but spaces
** after the object (safetensors pads with spaces).
**
** After parsing, the offsets are checked as the reference implementation
** checks them: each tensor's bytes are exactly what its dtype and shape
** need, and the tensors, taken by offset, tile the data from its first
** byte to its last (an overlap, a gap or trailing bytes are errors).
** Every count taken from the file goes through size.h.
*/
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "st_header.h"

/* {======================================================================
** Cursor and errors
** ======================================================================= */

typedef struct cursor {
  tl_ctx *ctx;
  const char *where;
  const char *s;
  size_t n, i;
} cursor;

/* Fails with "bad header: MESSAGE at byte I" (I from the JSON's start). */
static tl_status bad(cursor *c, const char *msg) {
  return tl__fail_at(c->ctx, TL_EFORMAT, c->where, "bad safetensors header: "
                     "%s at byte %zu of the JSON", msg, c->i);
}

static tl_status nomem(cursor *c) {
  return tl__fail_at(c->ctx, TL_ENOMEM, c->where, "out of memory");
}

static void skip_ws(cursor *c) {
  while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
                         c->s[c->i] == '\n' || c->s[c->i] == '\r'))
    c->i++;
}

/* Skips spaces, then reports whether the next byte is 'ch' (consumed). */
static int accept(cursor *c, char ch) {
  skip_ws(c);
  if (c->i < c->n && c->s[c->i] == ch) { c->i++; return 1; }
  return 0;
}

static tl_status expect(cursor *c, char ch) {
  if (accept(c, ch)) return TL_OK;
  char msg[40];
  snprintf(msg, sizeof msg, c->i < c->n ? "'%c' expected" : "'%c' expected, "
           "end of header reached", ch);
  return bad(c, msg);
}

/* }====================================================================== */

/* {======================================================================
** Values: strings and non-negative integers
** ======================================================================= */

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Four hex digits at c->i (after "\u"), or -1. */
static long hex4(cursor *c) {
  if (c->n - c->i < 4) return -1;
  long v = 0;
  for (int k = 0; k < 4; k++) {
    int h = hexval(c->s[c->i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  c->i += 4;
  return v;
}

static size_t put_utf8(char *o, unsigned long cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* A JSON string into a new NUL-terminated buffer (*out, *len).  The
** decoded text is never longer than the quoted one (an escape of 6 bytes
** gives at most 3, a pair of 12 gives 4). */
static tl_status parse_string(cursor *c, char **out, size_t *len) {
  skip_ws(c);
  if (c->i >= c->n || c->s[c->i] != '"') return bad(c, "string expected");
  size_t start = ++c->i, end = start;
  while (end < c->n && c->s[end] != '"') end += c->s[end] == '\\' ? 2 : 1;
  if (end >= c->n) { c->i = c->n; return bad(c, "unterminated string"); }
  char *o = malloc(end - start + 1);
  if (o == NULL) return nomem(c);
  size_t k = 0;
  while (c->i < end) {
    unsigned char ch = (unsigned char)c->s[c->i];
    if (ch < 0x20) { free(o); return bad(c, "control character in a string"); }
    c->i++;
    if (ch != '\\') { o[k++] = (char)ch; continue; }
    char e = c->s[c->i++];
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e != '\0' && simple != NULL) {
      o[k++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      continue;
    }
    if (e != 'u') { c->i--; free(o); return bad(c, "unknown escape"); }
    long cp = hex4(c);
    if (cp >= 0xD800 && cp <= 0xDBFF && c->i + 2 <= end &&
        c->s[c->i] == '\\' && c->s[c->i + 1] == 'u') {
      c->i += 2;
      long lo = hex4(c);
      cp = lo >= 0xDC00 && lo <= 0xDFFF
           ? 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) : -1;
    } else if (cp >= 0xD800 && cp <= 0xDFFF)
      cp = -1;                                   /* a lone surrogate */
    if (cp <= 0) {
      free(o);
      return bad(c, cp == 0 ? "\\u0000 in a string" : "bad \\u escape");
    }
    k += put_utf8(o + k, (unsigned long)cp);
  }
  o[k] = '\0';
  c->i = end + 1;
  *out = o;
  *len = k;
  return TL_OK;
}

/* A non-negative integer without sign, fraction or exponent (all that
** safetensors writes), at most UINT64_MAX. */
static tl_status parse_uint(cursor *c, uint64_t *out) {
  skip_ws(c);
  size_t start = c->i;
  uint64_t v = 0;
  while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
    unsigned d = (unsigned)(c->s[c->i] - '0');
    if (v > (UINT64_MAX - d) / 10) return bad(c, "integer too large");
    v = v * 10 + d;
    c->i++;
  }
  if (c->i == start) return bad(c, "non-negative integer expected");
  if (c->s[start] == '0' && c->i - start > 1) {
    c->i = start;
    return bad(c, "leading zero in an integer");
  }
  if (c->i < c->n && strchr(".eE", c->s[c->i]) != NULL && c->s[c->i] != '\0')
    return bad(c, "integer expected, got a fraction or exponent");
  *out = v;
  return TL_OK;
}

/* '[' u, u, ... ']' into out[0..max); *count of them. */
static tl_status parse_uint_list(cursor *c, uint64_t *out, size_t max,
                                 size_t *count, const char *what) {
  tl_status st = expect(c, '[');
  *count = 0;
  if (st != TL_OK || accept(c, ']')) return st;
  do {
    if (*count == max) {
      char msg[80];
      snprintf(msg, sizeof msg, "more than %zu values in '%s'", max, what);
      return bad(c, msg);
    }
    if ((st = parse_uint(c, &out[(*count)++])) != TL_OK) return st;
  } while (accept(c, ','));
  return expect(c, ']');
}

/* }====================================================================== */

/* {======================================================================
** The schema
** ======================================================================= */

static const struct { const char *name; size_t bytes; } dtypes[] = {
  {"F64", 8}, {"F32", 4},            /* tl__st_dtype's order: read */
  {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
  {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1},
  {"F8_E4M3", 1}, {"F8_E5M2", 1}
};

/* One tensor's entry; 'dsize' receives its dtype's size in bytes. */
static tl_status parse_tensor(cursor *c, tl__st_tensor *t, size_t *dsize) {
  int seen[3] = {0, 0, 0};            /* dtype, shape, data_offsets */
  tl_status st = expect(c, '{');
  if (st != TL_OK) return st;
  do {
    char *key;
    size_t klen, at = c->i;
    if ((st = parse_string(c, &key, &klen)) != TL_OK) return st;
    int which = strcmp(key, "dtype") == 0 ? 0 : strcmp(key, "shape") == 0 ? 1
                : strcmp(key, "data_offsets") == 0 ? 2 : -1;
    free(key);
    c->i = which < 0 || seen[which] ? at : c->i;
    if (which < 0) return bad(c, "unknown key in a tensor's entry");
    if (seen[which]) return bad(c, "repeated key in a tensor's entry");
    seen[which] = 1;
    if ((st = expect(c, ':')) != TL_OK) return st;
    if (which == 0) {
      char *d;
      size_t dlen, k;
      at = c->i;
      if ((st = parse_string(c, &d, &dlen)) != TL_OK) return st;
      for (k = 0; k < sizeof dtypes / sizeof *dtypes; k++)
        if (strcmp(d, dtypes[k].name) == 0) break;
      if (k == sizeof dtypes / sizeof *dtypes) {
        tl__fail_at(c->ctx, TL_EFORMAT, c->where, "unknown dtype '%.40s' of "
                    "tensor '%.200s'", d, t->name);
        free(d);
        return TL_EFORMAT;
      }
      free(d);
      t->dtype = k < TL__ST_OTHER ? (tl__st_dtype)k : TL__ST_OTHER;
      *dsize = dtypes[k].bytes;
    } else if (which == 1) {
      uint64_t dims[TL__ST_MAX_DIMS];
      if ((st = parse_uint_list(c, dims, TL__ST_MAX_DIMS, &t->ndim, "shape")))
        return st;
      for (size_t k = 0; k < t->ndim; k++) {
        if (dims[k] > SIZE_MAX) return bad(c, "dimension too large");
        t->shape[k] = (size_t)dims[k];
      }
    } else {
      uint64_t off[2];
      size_t n;
      if ((st = parse_uint_list(c, off, 2, &n, "data_offsets")) != TL_OK)
        return st;
      if (n != 2) return bad(c, "'data_offsets' must hold two integers");
      t->begin = off[0];
      t->end = off[1];
    }
  } while (accept(c, ','));
  if ((st = expect(c, '}')) != TL_OK) return st;
  if (!seen[0] || !seen[1] || !seen[2])
    return tl__fail_at(c->ctx, TL_EFORMAT, c->where, "bad safetensors header: "
                       "tensor '%.200s' has no '%s'", t->name,
                       !seen[0] ? "dtype" : !seen[1] ? "shape" : "data_offsets");
  return TL_OK;
}

static tl_status parse_metadata(cursor *c, tl__st_header *hd) {
  tl_status st = expect(c, '{');
  if (st != TL_OK || accept(c, '}')) return st;
  do {
    if (hd->nmeta == hd->cap_meta) {
      size_t cap = hd->cap_meta ? 2 * hd->cap_meta : 8, bytes;
      void *p = tl__size_mul(cap, sizeof *hd->meta, &bytes)
                ? realloc(hd->meta, bytes) : NULL;
      if (p == NULL) return nomem(c);
      hd->meta = p;
      hd->cap_meta = cap;
    }
    tl__st_pair *pr = &hd->meta[hd->nmeta];
    size_t len;
    if ((st = parse_string(c, &pr->key, &len)) != TL_OK) return st;
    pr->value = NULL;
    hd->nmeta++;
    if ((st = expect(c, ':')) != TL_OK) return st;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] != '"')
      return bad(c, "__metadata__ values must be strings");
    if ((st = parse_string(c, &pr->value, &len)) != TL_OK) return st;
  } while (accept(c, ','));
  return expect(c, '}');
}

/* }====================================================================== */

/* {======================================================================
** The whole header
** ======================================================================= */

static int by_name(const void *a, const void *b) {
  return strcmp(((const tl__st_tensor *)a)->name,
                ((const tl__st_tensor *)b)->name);
}

static int by_key(const void *a, const void *b) {
  return strcmp(((const tl__st_pair *)a)->key, ((const tl__st_pair *)b)->key);
}

static int by_offset(const void *a, const void *b) {
  const tl__st_tensor *x = *(tl__st_tensor *const *)a;
  const tl__st_tensor *y = *(tl__st_tensor *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static tl_status parse_top(cursor *c, tl__st_header *hd, size_t **dsizes) {
  tl_status st = expect(c, '{');
  if (st != TL_OK || accept(c, '}')) return st;
  do {
    char *name;
    size_t len, at = c->i;
    if ((st = parse_string(c, &name, &len)) != TL_OK) return st;
    if ((st = expect(c, ':')) != TL_OK) { free(name); return st; }
    if (strcmp(name, "__metadata__") == 0) {
      free(name);
      if (hd->has_meta) { c->i = at; return bad(c, "repeated __metadata__"); }
      hd->has_meta = 1;
      if ((st = parse_metadata(c, hd)) != TL_OK) return st;
      continue;
    }
    if (hd->nt == hd->cap_t) {
      size_t cap = hd->cap_t ? 2 * hd->cap_t : 8, b1, b2;
      void *p = tl__size_mul(cap, sizeof *hd->t, &b1) ? realloc(hd->t, b1) : NULL;
      if (p != NULL) hd->t = p;
      void *q = p && tl__size_mul(cap, sizeof **dsizes, &b2)
                ? realloc(*dsizes, b2) : NULL;
      if (q != NULL) *dsizes = q;
      if (p == NULL || q == NULL) { free(name); return nomem(c); }
      hd->cap_t = cap;
    }
    tl__st_tensor *t = &hd->t[hd->nt++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->name_len = len;
    if ((st = parse_tensor(c, t, &(*dsizes)[hd->nt - 1])) != TL_OK) return st;
  } while (accept(c, ','));
  if ((st = expect(c, '}')) != TL_OK) return st;
  skip_ws(c);
  if (c->i < c->n) return bad(c, "text after the header's object");
  return TL_OK;
}

/* Each tensor's bytes fit its dtype and shape; together they tile
** [0, data_len) exactly; no name repeats. */
static tl_status check_layout(cursor *c, tl__st_header *hd,
                              const size_t *dsizes, uint64_t data_len) {
  const char *w = c->where;
  for (size_t k = 0; k < hd->nt; k++) {
    tl__st_tensor *t = &hd->t[k];
    size_t bytes = dsizes[k];
    int fits = 1;
    for (size_t d = 0; d < t->ndim && fits; d++)
      fits = tl__size_mul(bytes, t->shape[d], &bytes);
    if (t->begin > t->end || t->end > data_len)
      return tl__fail_at(c->ctx, TL_EFORMAT, w, "tensor '%.200s': data_offsets "
                         "[%llu, %llu] out of range (%llu bytes of data)",
                         t->name, (unsigned long long)t->begin,
                         (unsigned long long)t->end,
                         (unsigned long long)data_len);
    if (!fits || t->end - t->begin != bytes)
      return tl__fail_at(c->ctx, TL_EFORMAT, w, "tensor '%.200s': %llu bytes "
                         "of data where its dtype and shape need %s", t->name,
                         (unsigned long long)(t->end - t->begin),
                         fits ? "another count" : "more than fits in memory");
  }
  tl__st_tensor **order = malloc((hd->nt ? hd->nt : 1) * sizeof *order);
  if (order == NULL) return nomem(c);
  for (size_t k = 0; k < hd->nt; k++) order[k] = &hd->t[k];
  qsort(order, hd->nt, sizeof *order, by_offset);
  uint64_t at = 0;
  tl_status st = TL_OK;
  for (size_t k = 0; k < hd->nt && st == TL_OK; k++) {
    if (order[k]->begin < at)
      st = tl__fail_at(c->ctx, TL_EFORMAT, w, "tensors '%.200s' and '%.200s' "
                       "overlap", order[k - 1]->name, order[k]->name);
    else if (order[k]->begin > at)
      st = tl__fail_at(c->ctx, TL_EFORMAT, w, "data bytes %llu to %llu belong "
                       "to no tensor", (unsigned long long)at,
                       (unsigned long long)order[k]->begin);
    at = order[k]->end;
  }
  free(order);
  if (st == TL_OK && at != data_len)
    st = tl__fail_at(c->ctx, TL_EFORMAT, w, "%llu bytes of data after the last "
                     "tensor", (unsigned long long)(data_len - at));
  if (st != TL_OK) return st;
  /* sorted, repeats are neighbours: n log n however many names */
  if (hd->nt > 1) qsort(hd->t, hd->nt, sizeof *hd->t, by_name);
  for (size_t k = 1; k < hd->nt; k++)
    if (strcmp(hd->t[k - 1].name, hd->t[k].name) == 0)
      return tl__fail_at(c->ctx, TL_EFORMAT, w, "bad safetensors header: "
                         "tensor '%.200s' appears twice", hd->t[k].name);
  if (hd->nmeta > 1) qsort(hd->meta, hd->nmeta, sizeof *hd->meta, by_key);
  for (size_t k = 1; k < hd->nmeta; k++)
    if (strcmp(hd->meta[k - 1].key, hd->meta[k].key) == 0)
      return tl__fail_at(c->ctx, TL_EFORMAT, w, "bad safetensors header: "
                         "key '%.200s' appears twice in __metadata__",
                         hd->meta[k].key);
  return TL_OK;
}

void tl__st_header_free(tl__st_header *hd) {
  for (size_t k = 0; k < hd->nt; k++) free(hd->t[k].name);
  for (size_t k = 0; k < hd->nmeta; k++) {
    free(hd->meta[k].key);
    free(hd->meta[k].value);
  }
  free(hd->t);
  free(hd->meta);
  memset(hd, 0, sizeof *hd);
}

tl_status tl__st_header_parse(tl_ctx *ctx, const char *where, const char *h,
                              size_t n, uint64_t data_len, tl__st_header *out) {
  cursor c = {ctx, where, h, n, 0};
  size_t *dsizes = NULL;
  memset(out, 0, sizeof *out);
  tl_status st = parse_top(&c, out, &dsizes);
  if (st == TL_OK) st = check_layout(&c, out, dsizes, data_len);
  free(dsizes);
  if (st != TL_OK) tl__st_header_free(out);
  return st;
}

const tl__st_tensor *tl__st_find(const tl__st_header *hd, const char *name) {
  tl__st_tensor key;
  key.name = (char *)name;
  if (hd->nt == 0) return NULL;
  return bsearch(&key, hd->t, hd->nt, sizeof *hd->t, by_name);
}

const char *tl__st_meta(const tl__st_header *hd, const char *key) {
  for (size_t k = 0; k < hd->nmeta; k++)
    if (strcmp(hd->meta[k].key, key) == 0) return hd->meta[k].value;
  return NULL;
}

/* }====================================================================== */
