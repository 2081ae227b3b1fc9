/* SmAxis as a GEnum, so that templates can set a view's axis by name. */
#include "sm-axis.h"

GType
sm_axis_get_type (void)
{
  static gsize type_id;
  static const GEnumValue values[] = {
    { SM_AXIS_XY, "SM_AXIS_XY", "xy" },
    { SM_AXIS_XZ, "SM_AXIS_XZ", "xz" },
    { SM_AXIS_YZ, "SM_AXIS_YZ", "yz" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id, g_enum_register_static ("SmAxis", values));
  return type_id;
}

const char *
sm_axis_name (SmAxis a)
{
  return a == SM_AXIS_XY ? "XY" : a == SM_AXIS_XZ ? "XZ" : "YZ";
}

const char *
sm_axis_slice_letter (SmAxis a)
{
  return a == SM_AXIS_XY ? "z" : a == SM_AXIS_XZ ? "y" : "x";
}
