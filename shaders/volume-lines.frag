// Flat colour for SmVolumeView's lines, faint where they pass behind what the
// ray-march drew opaque (its depth, at the march's resolution).
in vec4 v_colour;
out vec4 frag_color;

uniform bool u_use_depth;
uniform sampler2D u_depth;
uniform vec2 u_target_size;   // pixels of the framebuffer drawn into

void main ()
{
  float alpha = v_colour.a;
  if (u_use_depth && gl_FragCoord.z > texture (u_depth, gl_FragCoord.xy / u_target_size).r + 1e-4)
    alpha *= 0.3;
  frag_color = vec4 (v_colour.rgb, alpha);
}
