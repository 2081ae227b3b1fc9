// Flat colour for SmVolumeView's lines.
in vec4 v_colour;
out vec4 frag_color;

void main ()
{
  frag_color = v_colour;
}
