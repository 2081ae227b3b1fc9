// Ray-marcher of SmVolumeView: maximum-intensity projection or front-to-back
// alpha compositing of the image volume, and the selected label segments as
// shaded iso-surfaces of their mask. The #version line is prepended.
//
// gl_FragDepth is where the picture becomes opaque (a surface, or compositing
// reaching half opacity; far for MIP), so the line overlay can dim what lies
// behind it.
//
// Box space: physical units, centred, axes (x, y, z) of the volume, the box is
// [-u_half_extent, u_half_extent]; texture coordinates are p / (2 h) + 0.5.
in vec2 v_ndc;
out vec4 frag_color;

uniform mat4 u_inv_mvp;        // clip -> box space
uniform mat4 u_mvp;            // box space -> clip, for the depth of what the eye sees
uniform vec3 u_half_extent;    // (x, y, z)
// Samples in the march use textureLod: in divergent control flow implicit
// derivatives are undefined, and software GL pays for them on every lane.
uniform sampler3D u_volume;    // R: texel in [0, 1]
uniform sampler3D u_mask;      // R: smoothed occupancy of the selected segments (>= 0.5 inside), G: palette index / 255
uniform sampler2D u_palette;   // 256 x 1, RGB per palette index
uniform bool u_has_volume;
uniform bool u_has_mask;
uniform vec2 u_window;         // t = texel * u_window.x + u_window.y, then clamp to [0, 1]
uniform float u_gamma;
uniform bool u_invert;
uniform int u_mode;            // 0 maximum-intensity projection, 1 compositing
uniform float u_step_opacity;  // compositing: opacity per step at the top of the ramp
uniform float u_visible_texel; // compositing: texels beyond this (above; below when inverted) reach the ramp
uniform vec2 u_ramp;           // compositing: opacity ramps from u_ramp.x to u_ramp.y
uniform float u_step;          // step length in box space
uniform int u_max_steps;
uniform vec3 u_background;
// Empty-space skipping over bricks of texels (texelFetch, one texel per brick):
// u_bricks RG = lowest and highest texel a sample in the brick can read, B =
// a selected segment within reach; u_brick_tc = one brick in texture coordinates.
uniform bool u_skip;
uniform sampler3D u_bricks;
uniform vec3 u_brick_tc;
const float MIP_SLACK = 3.0 / 255.0;

// A texel through the window, gamma and invert: display intensity in [0, 1].
float intensity (float texel)
{
  float t = clamp (texel * u_window.x + u_window.y, 0.0, 1.0);
  if (u_gamma != 1.0) t = pow (t, u_gamma);
  return u_invert ? 1.0 - t : t;
}

// Shaded surface colour of the mask at texture coordinate tc, seen along rd.
vec3 shade_surface (vec3 tc, vec3 rd)
{
  vec3 size = vec3 (textureSize (u_mask, 0));
  // A wide central difference (1.5 texels) smooths the staircase of the
  // binary mask's interpolated surface.
  vec3 d = 1.5 / size;
  vec3 grad = vec3 (
      textureLod (u_mask, tc + vec3 (d.x, 0, 0), 0.0).r - textureLod (u_mask, tc - vec3 (d.x, 0, 0), 0.0).r,
      textureLod (u_mask, tc + vec3 (0, d.y, 0), 0.0).r - textureLod (u_mask, tc - vec3 (0, d.y, 0), 0.0).r,
      textureLod (u_mask, tc + vec3 (0, 0, d.z), 0.0).r - textureLod (u_mask, tc - vec3 (0, 0, d.z), 0.0).r);
  // d/dp = d/dtc / (2 h) per axis (chain rule through tc = p / 2h + 0.5).
  grad = grad / (2.0 * u_half_extent * d);
  vec3 texel = tc * size - 0.5;
  vec3 n = length (grad) > 1e-6 ? -normalize (grad) : -rd;
  if (dot (n, rd) > 0.0) n = -n;

  // The segment: the largest palette index among the 8 nearest texels, since
  // the interpolated surface may sit just outside the texels that carry it.
  ivec3 base = ivec3 (floor (texel));
  ivec3 top = ivec3 (size) - 1;
  float index = 0.0;
  for (int k = 0; k < 8; k++) {
    ivec3 c = clamp (base + ivec3 (k & 1, (k >> 1) & 1, (k >> 2) & 1), ivec3 (0), top);
    index = max (index, texelFetch (u_mask, c, 0).g);
  }
  vec3 base_colour = texelFetch (u_palette, ivec2 (int (index * 255.0 + 0.5), 0), 0).rgb;

  // Headlight: light from the eye, Blinn-Phong.
  vec3 l = -rd;
  float diffuse = max (dot (n, l), 0.0);
  float specular = pow (max (dot (n, l), 0.0), 40.0);
  return base_colour * (0.25 + 0.75 * diffuse) + vec3 (0.25 * specular);
}

// The brick holding texture coordinate tc: RG = lowest and highest texel a
// sample there can read, B = a selected segment within reach.
vec4 brick_at (vec3 tc)
{
  ivec3 cell = clamp (ivec3 (floor (tc / u_brick_tc)), ivec3 (0), textureSize (u_bricks, 0) - 1);
  return texelFetch (u_bricks, cell, 0);
}

// The first sample position (on the step grid) past the brick holding tc.
float brick_exit (vec3 tc, float t, vec3 dtc)
{
  vec3 cell = floor (tc / u_brick_tc);
  vec3 bound = mix (cell * u_brick_tc, (cell + 1.0) * u_brick_tc, step (0.0, dtc));
  vec3 tb = mix (vec3 (1e30), (bound - tc) / dtc, greaterThan (abs (dtc), vec3 (1e-12)));
  return t + max (ceil (min (tb.x, min (tb.y, tb.z)) / u_step), 1.0) * u_step;
}

void main ()
{
  vec4 near_p = u_inv_mvp * vec4 (v_ndc, -1.0, 1.0);
  vec4 far_p = u_inv_mvp * vec4 (v_ndc, 1.0, 1.0);
  vec3 ro = near_p.xyz / near_p.w;
  vec3 rd = normalize (far_p.xyz / far_p.w - ro);

  // Ray / box slabs.
  vec3 inv = 1.0 / rd;
  vec3 t0 = (-u_half_extent - ro) * inv;
  vec3 t1 = (u_half_extent - ro) * inv;
  vec3 tlo = min (t0, t1), thi = max (t0, t1);
  float t_enter = max (max (tlo.x, tlo.y), max (tlo.z, 0.0));
  float t_exit = min (min (thi.x, thi.y), thi.z);
  if (!(t_exit > t_enter) || !(u_has_volume || u_has_mask)) {
    frag_color = vec4 (u_background, 1.0);
    gl_FragDepth = 1.0;
    return;
  }

  // Jitter the start by a fraction of a step against wood-grain banding.
  float jitter = fract (sin (dot (gl_FragCoord.xy, vec2 (12.9898, 78.233))) * 43758.5453);
  vec3 to_tc = 0.5 / u_half_extent;
  vec4 acc = vec4 (0.0);
  vec3 surface = vec3 (0.0);
  bool hit = false;
  float prev_t = t_enter;
  float t_opaque = -1.0;    // where the picture becomes opaque, if it does
  float hit_t = 0.0;        // first sample inside a selected segment
  // MIP commutes with the (monotonic) window, gamma and invert: march the raw
  // texels, keep their max and min, map once at the end. Stop early once the
  // projection is saturated (and no surface could still lie behind).
  float raw_max = 0.0, raw_min = 1.0;
  float saturate = u_invert ? -u_window.y / u_window.x : (1.0 - u_window.y) / u_window.x;
  vec3 dtc = rd * to_tc;    // texture coordinates per unit of t
  float t = t_enter + jitter * u_step;
  // One loop per mode: software GL runs every branch body in a loop for all
  // lanes, but skips a whole loop whose lanes are all inactive.
  if (u_mode == 0) {
    for (int i = 0; i < u_max_steps; i++) {
      if (t > t_exit) break;
      vec3 tc = (ro + rd * t) * to_tc + 0.5;
      bool mask_near = u_has_mask;
      if (u_skip) {
        vec4 brick = brick_at (tc);
        mask_near = u_has_mask && brick.b >= 0.5;
        // A brick whose brightest texel beats the running maximum by less
        // than MIP_SLACK cannot visibly change it (interpolated samples
        // rarely reach a texel extreme, so an exact test would seldom skip).
        bool dull = !u_has_volume || (u_invert ? brick.r >= raw_min - MIP_SLACK : brick.g <= raw_max + MIP_SLACK);
        if (!mask_near && dull) {
          t = brick_exit (tc, t, dtc);
          prev_t = t - u_step;
          continue;
        }
      }
      if (mask_near && textureLod (u_mask, tc, 0.0).r >= 0.5) {
        // Only note the crossing: refining and shading it happen after the loop.
        hit = true;
        hit_t = t;
        break;
      }
      prev_t = t;
      t += u_step;
      float s = textureLod (u_volume, tc, 0.0).r;
      raw_max = max (raw_max, s);
      raw_min = min (raw_min, s);
      if (!u_has_mask && (u_invert ? raw_min <= saturate : raw_max >= saturate)) break;
    }
  } else {
    for (int i = 0; i < u_max_steps; i++) {
      if (t > t_exit) break;
      vec3 tc = (ro + rd * t) * to_tc + 0.5;
      bool mask_near = u_has_mask;
      if (u_skip) {
        vec4 brick = brick_at (tc);
        mask_near = u_has_mask && brick.b >= 0.5;
        bool clear = !u_has_volume || (u_invert ? brick.r > u_visible_texel : brick.g < u_visible_texel);
        if (!mask_near && clear) {
          t = brick_exit (tc, t, dtc);
          prev_t = t - u_step;
          continue;
        }
      }
      if (mask_near && textureLod (u_mask, tc, 0.0).r >= 0.5) {
        hit = true;
        hit_t = t;
        break;
      }
      prev_t = t;
      t += u_step;
      float v = intensity (textureLod (u_volume, tc, 0.0).r);
      // u_step_opacity is the opacity already corrected for the step length
      // (exact at both ends of the ramp, close in between).
      float alpha = u_has_volume ? u_step_opacity * smoothstep (u_ramp.x, u_ramp.y, v) : 0.0;
      acc.rgb += (1.0 - acc.a) * alpha * vec3 (v);
      acc.a += (1.0 - acc.a) * alpha;
      if (t_opaque < 0.0 && acc.a >= 0.5) t_opaque = t - u_step;
      if (acc.a > 0.98) break;
    }
  }
  if (hit) {
    // Refine the crossing between the previous sample and the hit.
    float a = prev_t, b = hit_t;
    for (int k = 0; k < 5; k++) {
      float m = 0.5 * (a + b);
      if (textureLod (u_mask, (ro + rd * m) * to_tc + 0.5, 0.0).r >= 0.5) b = m; else a = m;
    }
    surface = shade_surface ((ro + rd * b) * to_tc + 0.5, rd);
    if (t_opaque < 0.0) t_opaque = b;
  }
  float mip = 0.0;
  if (u_mode == 0 && u_has_volume && raw_max >= raw_min) mip = intensity (u_invert ? raw_min : raw_max);

  vec3 colour;
  if (u_mode == 0) {
    // The projection in front of a surface glows over it.
    vec3 behind = hit ? surface : u_background;
    colour = hit ? mix (behind, vec3 (mip), 0.5 * mip) : max (vec3 (mip), u_background);
  } else {
    vec3 behind = hit ? surface : u_background;
    colour = acc.rgb + (1.0 - acc.a) * behind;
  }
  frag_color = vec4 (colour, 1.0);
  if (t_opaque < 0.0) {
    gl_FragDepth = 1.0;
  } else {
    vec4 clip = u_mvp * vec4 (ro + rd * t_opaque, 1.0);
    gl_FragDepth = clamp (clip.z / clip.w * 0.5 + 0.5, 0.0, 1.0);
  }
}
