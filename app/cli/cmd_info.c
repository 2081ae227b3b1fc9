#include "cli_common.h"
int cmd_info(int argc, char **argv) { (void)argc; return cli_fail("%s: not implemented yet", argv[0]); }
