/* The three slice orientations and which volume dimension (0 = z, 1 = y,
 * 2 = x) runs across (h), down (v) and through (w) a view. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  SM_AXIS_XY, /* across x, down y, slices along z */
  SM_AXIS_XZ, /* across x, down z, slices along y */
  SM_AXIS_YZ, /* across y, down z, slices along x */
} SmAxis;

#define SM_TYPE_AXIS (sm_axis_get_type ())
GType sm_axis_get_type (void);

static inline int sm_axis_dim_h (SmAxis a) { return a == SM_AXIS_YZ ? 1 : 2; }
static inline int sm_axis_dim_v (SmAxis a) { return a == SM_AXIS_XY ? 1 : 0; }
static inline int sm_axis_dim_w (SmAxis a) { return a == SM_AXIS_XY ? 0 : a == SM_AXIS_XZ ? 1 : 2; }
const char *sm_axis_name (SmAxis a);         /* "XY" */
const char *sm_axis_slice_letter (SmAxis a); /* "z" */

G_END_DECLS
