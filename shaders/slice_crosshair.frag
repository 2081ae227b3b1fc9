// The crosshair through the cursor voxel, with a gap so that the voxel itself
// stays visible; each line has the colour of the view whose plane it is.
in vec2 v_uv;
in vec2 v_pix;
out vec4 frag_color;

uniform vec2 u_cursor_pix;
uniform vec4 u_colour_vertical;
uniform vec4 u_colour_horizontal;
uniform float u_half_width;
uniform float u_gap;
uniform vec2 u_brush_pix;     // paint brush outline around the pointer (pixels)
uniform float u_brush_radius; // 0 = none

void main() {
  vec2 d = abs(v_pix - u_cursor_pix);
  float ring = abs(length(v_pix - u_brush_pix) - u_brush_radius);
  if (u_brush_radius > 0.0 && ring < 1.0)
    frag_color = vec4(1.0, 1.0, 1.0, 0.9 * (1.0 - ring));
  else if (d.x < u_half_width && d.y > u_gap)
    frag_color = u_colour_vertical;
  else if (d.y < u_half_width && d.x > u_gap)
    frag_color = u_colour_horizontal;
  else
    discard;
}
