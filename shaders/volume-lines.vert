// Lines of SmVolumeView (bounding box, slice-plane frames) as screen-space
// quads of a fixed pixel width: core GL has no wide lines. Each segment is two
// triangles whose vertices carry both end points and a corner (t, side).
layout (location = 0) in vec3 a_p0;
layout (location = 1) in vec3 a_p1;
layout (location = 2) in vec2 a_corner;
layout (location = 3) in vec4 a_colour;
out vec4 v_colour;

uniform mat4 u_mvp;          // box space -> clip
uniform vec2 u_viewport;     // pixels
uniform float u_width;       // pixels

void main ()
{
  vec4 c0 = u_mvp * vec4 (a_p0, 1.0);
  vec4 c1 = u_mvp * vec4 (a_p1, 1.0);
  vec2 s0 = c0.xy / c0.w * u_viewport;
  vec2 s1 = c1.xy / c1.w * u_viewport;
  vec2 along = s1 - s0;
  vec2 dir = length (along) > 1e-4 ? normalize (along) : vec2 (1.0, 0.0);
  vec2 normal = vec2 (-dir.y, dir.x);
  vec4 c = mix (c0, c1, a_corner.x);
  c.xy += normal * a_corner.y * u_width / u_viewport * c.w;
  gl_Position = c;
  v_colour = a_colour;
}
