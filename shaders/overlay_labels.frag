// A label layer: uint32 ids, 0 transparent, each id a hashed colour (or the
// colour chosen for its segment); filled or outline-only; the selected ids
// brighter with a yellow boundary.
in vec2 v_uv;
in vec2 v_pix;
out vec4 frag_color;

uniform usampler3D u_labels;
uniform ivec3 u_size;   // texels (x, y, z)
uniform vec3 u_plane;
uniform vec3 u_axis_u;
uniform vec3 u_axis_v;
uniform float u_opacity;
uniform bool u_outline;
uniform uint u_selected[16]; // SM_VIEW_STATE_MAX_SELECTED; the first u_n_selected count
uniform int u_n_selected;
// The layer's label map (sm-layer.h SmLabelMapEntry): u_map_n texels
// (fragment, segment, colour 0xRRGGBB, flags) sorted by fragment, row-major
// in rows of u_map_width, for fragments that do not show as themselves
// (merged into another segment; hidden: flags & 2u, shown as 0) and for
// segments with a chosen colour (flags & 1u). A merge or its undo re-uploads only this
// table, never the voxels.
uniform usampler2D u_map;
uniform int u_map_n;
uniform int u_map_width;

// A well-mixed hash of the id picks a hue (any), saturation and value (both
// high; saturation at most 0.74, so no channel falls below 0.2 and every
// colour stays bright over EM), so that neighbouring ids look different. The same function as
// sm_label_color_for_id (data/label_store.c): segment list and 3D surfaces
// use that one.
vec3 id_colour(uint id) {
  uint h = id * 2654435761u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  h *= 0x297a2d39u;
  h ^= h >> 15;
  float hue = float(h & 0xffffu) / 65535.0;
  float sat = 0.55 + 0.19 * float((h >> 16) & 0xffu) / 255.0;
  float val = 0.8 + 0.2 * float(h >> 24) / 255.0;
  vec3 rgb = clamp(abs(mod(hue * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
  return val * mix(vec3(1.0), rgb, sat);
}

// The map entry of a fragment (found: .r == fragment), binary search.
uvec4 map_entry(uint fragment) {
  int lo = 0;
  int hi = u_map_n; // [lo, hi)
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    uvec4 e = texelFetch(u_map, ivec2(mid % u_map_width, mid / u_map_width), 0);
    if (e.r == fragment)
      return e;
    if (e.r < fragment)
      lo = mid + 1;
    else
      hi = mid;
  }
  return uvec4(fragment, fragment, 0u, 0u);
}

uint segment_of(uint fragment) {
  uvec4 e = map_entry(fragment);
  return (e.a & 2u) != 0u ? 0u : e.g;
}

vec3 segment_colour(uint segment) {
  uvec4 e = map_entry(segment);
  if ((e.a & 1u) != 0u)
    return vec3(float((e.b >> 16) & 255u), float((e.b >> 8) & 255u), float(e.b & 255u)) / 255.0;
  return id_colour(segment);
}

uint id_at(ivec3 p) {
  return segment_of(texelFetch(u_labels, clamp(p, ivec3(0), u_size - 1), 0).r);
}

void main() {
  if (any(lessThan(v_uv, vec2(0.0))) || any(greaterThan(v_uv, vec2(1.0))))
    discard;
  vec3 tc = u_plane + v_uv.x * u_axis_u + v_uv.y * u_axis_v;
  ivec3 p = clamp(ivec3(floor(tc * vec3(u_size))), ivec3(0), u_size - 1);
  uint id = id_at(p);
  if (id == 0u)
    discard;
  bool selected = false;
  for (int i = 0; i < 16; i++) {
    if (i >= u_n_selected)
      break;
    selected = selected || id == u_selected[i];
  }
  // The boundary matters only in outline mode and for selected segments:
  // the four neighbour lookups (each through the label map) are skipped
  // for the filled, unselected bulk, which is most pixels.
  bool edge = false;
  if (u_outline || selected) {
    ivec3 du = ivec3(u_axis_u);
    ivec3 dv = ivec3(u_axis_v);
    edge = id_at(p + du) != id || id_at(p - du) != id || id_at(p + dv) != id || id_at(p - dv) != id;
  }
  if (u_outline && !edge && !selected)
    discard;
  vec3 c = segment_colour(id);
  float alpha = u_outline ? max(u_opacity, 0.8) : u_opacity;
  if (selected) {
    c = mix(c, vec3(1.0), 0.35);
    alpha = min(1.0, u_opacity * 1.5 + 0.2);
    if (edge) {
      c = vec3(1.0, 0.9, 0.2);
      alpha = 1.0;
    }
  }
  frag_color = vec4(c, alpha);
}
