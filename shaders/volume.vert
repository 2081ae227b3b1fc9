// Full-screen triangle for the ray-marcher; the #version line (GL 3.3 core or
// GLES 3.0) is prepended by SmVolumeView. Draw 3 vertices with no attributes.
out vec2 v_ndc;

void main ()
{
  vec2 corner = vec2 (float ((gl_VertexID << 1) & 2), float (gl_VertexID & 2));
  v_ndc = corner * 2.0 - 1.0;
  gl_Position = vec4 (v_ndc, 0.0, 1.0);
}
