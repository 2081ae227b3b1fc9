#include "agglomerate.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "connected_components.h"
#include "metrics_hash.h"

typedef struct Edge {
  uint32_t a, b;     /* live region ids (roots), a != b */
  double sum;        /* sum of the voxel-edge affinities across the interface */
  uint64_t count;    /* number of voxel edges */
  uint32_t version;  /* bumped whenever the score changes */
  bool alive;
} Edge;

typedef struct EdgeList {
  uint32_t *ids;
  uint32_t len, cap;
} EdgeList;

typedef struct QueueItem {
  double score;
  uint32_t edge, version;
} QueueItem;

/* Max-queue on score; equal scores: the lower edge id (found first) first. */
typedef struct Queue {
  QueueItem *items;
  size_t len, cap;
} Queue;

typedef struct Graph {
  uint32_t n_nodes;      /* fragments 1..n_nodes; 0 = background */
  Edge *edges;
  size_t n_edges, cap_edges;
  EdgeList *adj;         /* (n_nodes + 1) */
  uint32_t *parent;      /* (n_nodes + 1) union-find of merged regions */
  U64Map pair_to_edge;   /* (min, max) live pair -> edge id */
  Queue queue;
} Graph;

static inline bool queue_before(const QueueItem *x, const QueueItem *y) {
  return x->score > y->score || (x->score == y->score && x->edge < y->edge);
}

static int queue_push(Queue *q, double score, uint32_t edge, uint32_t version) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? 2 * q->cap : 1024;
    QueueItem *p = realloc(q->items, cap * sizeof *p);
    if (!p) return -1;
    q->items = p;
    q->cap = cap;
  }
  QueueItem item = {score, edge, version};
  size_t i = q->len++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!queue_before(&item, &q->items[parent])) break;
    q->items[i] = q->items[parent];
    i = parent;
  }
  q->items[i] = item;
  return 0;
}

static void queue_pop(Queue *q) {
  QueueItem last = q->items[--q->len];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= q->len) break;
    if (c + 1 < q->len && queue_before(&q->items[c + 1], &q->items[c])) c++;
    if (!queue_before(&q->items[c], &last)) break;
    q->items[i] = q->items[c];
    i = c;
  }
  if (q->len) q->items[i] = last;
}

static int list_push(EdgeList *l, uint32_t id) {
  if (l->len == l->cap) {
    uint32_t cap = l->cap ? 2 * l->cap : 4;
    uint32_t *p = realloc(l->ids, cap * sizeof *p);
    if (!p) return -1;
    l->ids = p;
    l->cap = cap;
  }
  l->ids[l->len++] = id;
  return 0;
}

static uint32_t find_root(uint32_t *parent, uint32_t a) {
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];
    a = parent[a];
  }
  return a;
}

static inline uint64_t pair_key(uint32_t a, uint32_t b) {
  return a < b ? u64map_pair(a, b) : u64map_pair(b, a);
}

static void graph_free(Graph *g) {
  if (g->adj)
    for (uint32_t i = 0; i <= g->n_nodes; i++) free(g->adj[i].ids);
  free(g->adj);
  free(g->edges);
  free(g->parent);
  free(g->queue.items);
  u64map_free(&g->pair_to_edge);
  memset(g, 0, sizeof *g);
}

/* Adds one voxel edge of affinity value between fragments a and b. */
static int graph_add(Graph *g, uint32_t a, uint32_t b, float value, uint64_t *last_key,
                     uint32_t *last_edge) {
  const uint64_t key = pair_key(a, b);
  if (key != *last_key) {
    bool inserted;
    uint64_t *slot = u64map_upsert(&g->pair_to_edge, key, &inserted);
    if (!slot) return -1;
    if (inserted) {
      if (g->n_edges == g->cap_edges) {
        size_t cap = g->cap_edges ? 2 * g->cap_edges : 4096;
        if (cap > UINT32_MAX) return -1;
        Edge *p = realloc(g->edges, cap * sizeof *p);
        if (!p) return -1;
        g->edges = p;
        g->cap_edges = cap;
      }
      *slot = g->n_edges;
      g->edges[g->n_edges++] = (Edge){a < b ? a : b, a < b ? b : a, 0, 0, 0, true};
    }
    *last_key = key;
    *last_edge = (uint32_t)*slot;
  }
  Edge *e = &g->edges[*last_edge];
  e->sum += isnan(value) ? 0.0f : value;  // NaN would compare as "above any threshold"
  e->count++;
  return 0;
}

static int graph_build(Graph *g, const uint32_t *frag, const float *aff, const int64_t dims[3],
                       uint32_t n_nodes) {
  memset(g, 0, sizeof *g);
  g->n_nodes = n_nodes;
  if (u64map_init(&g->pair_to_edge, 4 * (size_t)n_nodes) != 0) return -1;
  const int64_t nz = dims[0], ny = dims[1], nx = dims[2], n = nz * ny * nx;
  const int64_t stride[3] = {ny * nx, nx, 1};
  for (int c = 0; c < 3; c++) {
    const float *ch = aff + (size_t)c * (size_t)n;
    uint64_t last_key = UINT64_MAX;
    uint32_t last_edge = 0;
    int64_t i = 0;
    for (int64_t z = 0; z < nz; z++)
      for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++, i++) {
          const int64_t coord = c == 0 ? z : c == 1 ? y : x;
          if (coord == 0) continue;
          const uint32_t a = frag[i], b = frag[i - stride[c]];
          if (!a || !b || a == b) continue;
          if (graph_add(g, a, b, ch[i], &last_key, &last_edge) != 0) return -1;
        }
  }
  g->adj = calloc((size_t)n_nodes + 1, sizeof *g->adj);
  g->parent = malloc(((size_t)n_nodes + 1) * sizeof *g->parent);
  if (!g->adj || !g->parent) return -1;
  for (uint32_t i = 0; i <= n_nodes; i++) g->parent[i] = i;
  for (size_t e = 0; e < g->n_edges; e++) {
    const Edge *ed = &g->edges[e];
    if (list_push(&g->adj[ed->a], (uint32_t)e) != 0 || list_push(&g->adj[ed->b], (uint32_t)e) != 0)
      return -1;
    if (queue_push(&g->queue, ed->sum / (double)ed->count, (uint32_t)e, 0) != 0) return -1;
  }
  return 0;
}

/* Merges the two regions of edge e: the one with fewer edges folds into the
 * other, so each edge moves O(log E) times over the whole run. */
static int graph_merge(Graph *g, uint32_t e) {
  Edge *merged = &g->edges[e];
  uint32_t keep = merged->a, gone = merged->b;
  if (g->adj[gone].len > g->adj[keep].len) {
    uint32_t t = keep;
    keep = gone;
    gone = t;
  }
  merged->alive = false;
  g->parent[gone] = keep;
  EdgeList *from = &g->adj[gone];
  for (uint32_t j = 0; j < from->len; j++) {
    const uint32_t id = from->ids[j];
    Edge *ed = &g->edges[id];
    if (!ed->alive) continue;
    const uint32_t other = ed->a == gone ? ed->b : ed->a;
    // Keys of dead regions are never looked up again (lookups use live
    // roots), so stale entries stay in the map harmlessly.
    bool inserted;
    uint64_t *slot = u64map_upsert(&g->pair_to_edge, pair_key(keep, other), &inserted);
    if (!slot) return -1;
    if (inserted) {  // only `gone` touched `other`: the edge moves over as it is
      *slot = id;
      ed->a = keep < other ? keep : other;
      ed->b = keep < other ? other : keep;
      if (list_push(&g->adj[keep], id) != 0) return -1;
    } else {  // both touched `other`: one edge with the combined statistics
      Edge *common = &g->edges[*slot];
      common->sum += ed->sum;
      common->count += ed->count;
      common->version++;
      ed->alive = false;
      if (queue_push(&g->queue, common->sum / (double)common->count, (uint32_t)*slot,
                     common->version) != 0)
        return -1;
    }
  }
  free(from->ids);
  memset(from, 0, sizeof *from);
  return 0;
}

/* Merges while the best live edge scores >= threshold. */
static int graph_merge_until(Graph *g, double threshold) {
  while (g->queue.len) {
    const QueueItem top = g->queue.items[0];
    const Edge *ed = &g->edges[top.edge];
    if (!ed->alive || ed->version != top.version) {
      queue_pop(&g->queue);
      continue;
    }
    if (top.score < threshold) break;
    queue_pop(&g->queue);
    if (graph_merge(g, top.edge) != 0) return -1;
  }
  return 0;
}

/* segments[i] = region of fragment frag[i], relabelled in raster order. */
static int64_t graph_labels(uint32_t *segments, const uint32_t *frag, size_t n, Graph *g,
                            PpError *err) {
  // Point every fragment straight at its root (path halving alone leaves
  // some one step short).
  for (uint32_t f = 1; f <= g->n_nodes; f++) g->parent[f] = find_root(g->parent, f);
  for (size_t i = 0; i < n; i++) segments[i] = frag[i] ? g->parent[frag[i]] : 0;
  return cc_relabel_consecutive(segments, n, err);
}

/* Fragments relabelled 1..K into a private copy (graph node ids). */
static uint32_t *consecutive_copy(const uint32_t *fragments, size_t n, int64_t *k, PpError *err) {
  uint32_t *frag = malloc(n * sizeof *frag);
  if (!frag) {
    pp_error_set(err, "agglomerate.c: out of memory");
    return NULL;
  }
  memcpy(frag, fragments, n * sizeof *frag);
  *k = cc_relabel_consecutive(frag, n, err);
  if (*k < 0) {
    free(frag);
    return NULL;
  }
  return frag;
}

static int check_dims(const int64_t dims[3], PpError *err) {
  if (dims[0] <= 0 || dims[1] <= 0 || dims[2] <= 0)
    return pp_error_set(err, "agglomerate.c: empty or negative shape");
  return 0;
}

int agglo_mean_affinity_sequence(const uint32_t *fragments, const float *aff,
                                 const int64_t dims[3], const double *thresholds,
                                 int n_thresholds, AggloEmitFn emit, void *user,
                                 PpError *err) {
  if (check_dims(dims, err) != 0) return -1;
  for (int t = 1; t < n_thresholds; t++)
    if (thresholds[t] > thresholds[t - 1])
      return pp_error_set(err, "agglomerate.c: thresholds must be given in decreasing order");
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  int64_t k;
  uint32_t *frag = consecutive_copy(fragments, n, &k, err);
  if (!frag) return -1;
  uint32_t *segments = malloc(n * sizeof *segments);
  Graph g;
  int status = 0;
  if (!segments || graph_build(&g, frag, aff, dims, (uint32_t)k) != 0) {
    status = pp_error_set(err, "agglomerate.c: out of memory");
  }
  for (int t = 0; t < n_thresholds && status == 0; t++) {
    if (graph_merge_until(&g, thresholds[t]) != 0) {
      status = pp_error_set(err, "agglomerate.c: out of memory");
      break;
    }
    int64_t count = graph_labels(segments, frag, n, &g, err);
    if (count < 0) {
      status = -1;
      break;
    }
    emit(thresholds[t], segments, count, user);
  }
  if (segments) graph_free(&g);
  free(segments);
  free(frag);
  return status;
}

int64_t agglo_mean_affinity(uint32_t *segments, const uint32_t *fragments, const float *aff,
                            const int64_t dims[3], double threshold, PpError *err) {
  if (check_dims(dims, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  int64_t k;
  uint32_t *frag = consecutive_copy(fragments, n, &k, err);
  if (!frag) return -1;
  Graph g;
  int64_t result;
  if (graph_build(&g, frag, aff, dims, (uint32_t)k) != 0 || graph_merge_until(&g, threshold) != 0)
    result = pp_error_set(err, "agglomerate.c: out of memory");
  else
    result = graph_labels(segments, frag, n, &g, err);
  graph_free(&g);
  free(frag);
  return result;
}

void agglo_affinities_from_boundary_u8(float *aff, const uint8_t *boundary,
                                       const int64_t dims[3]) {
  const int64_t nz = dims[0], ny = dims[1], nx = dims[2], n = nz * ny * nx;
  const int64_t stride[3] = {ny * nx, nx, 1};
  for (int c = 0; c < 3; c++) {
    float *ch = aff + (size_t)c * (size_t)n;
    int64_t i = 0;
    for (int64_t z = 0; z < nz; z++)
      for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++, i++) {
          const int64_t coord = c == 0 ? z : c == 1 ? y : x;
          ch[i] = coord == 0 ? 0.0f
                             : 1.0f - (boundary[i] + boundary[i - stride[c]]) / (2.0f * 255.0f);
        }
  }
}
