// A full-view quad (triangle strip, no vertex buffer). v_pix is the fragment
// position in framebuffer pixels from the top left; v_uv the position in the
// slice, (0, 0) .. (1, 1) over the volume (outside: background).
uniform vec2 u_viewport;
uniform vec2 u_uv_scale;
uniform vec2 u_uv_offset;

out vec2 v_uv;
out vec2 v_pix;

void main() {
  vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
  v_pix = vec2(corner.x, 1.0 - corner.y) * u_viewport;
  v_uv = v_pix * u_uv_scale + u_uv_offset;
  gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
