// The image: one plane of the 3D texture (or the full-resolution 2D slice
// when the 3D texture is a downsampled level), window/level, gamma, invert.
in vec2 v_uv;
in vec2 v_pix;
out vec4 frag_color;

uniform sampler3D u_volume;
uniform sampler2D u_slice;
uniform bool u_use_slice;
uniform vec3 u_plane;   // texture coordinate of the slice plane (along the view's normal)
uniform vec3 u_axis_u;  // texture axis across the view
uniform vec3 u_axis_v;  // texture axis down the view
uniform float u_scale;  // data value = sample * u_scale
uniform float u_lo;
uniform float u_hi;
uniform float u_gamma;
uniform bool u_invert;
uniform vec3 u_background;

void main() {
  if (any(lessThan(v_uv, vec2(0.0))) || any(greaterThan(v_uv, vec2(1.0)))) {
    frag_color = vec4(u_background, 1.0);
    return;
  }
  float s = u_use_slice ? texture(u_slice, v_uv).r
                        : texture(u_volume, u_plane + v_uv.x * u_axis_u + v_uv.y * u_axis_v).r;
  float t = clamp((s * u_scale - u_lo) / max(u_hi - u_lo, 1e-20), 0.0, 1.0);
  t = pow(t, u_gamma);
  if (u_invert)
    t = 1.0 - t;
  frag_color = vec4(vec3(t), 1.0);
}
