/* Subcommands that ARCHITECTURE.md reserves and later work fills in. Each has
 * its help text already, so that scripts can discover the interface. Remove
 * an entry here when its real implementation (cmd_<name>.c) lands. */
#include <stdio.h>

#include "cli_common.h"

__attribute__((unused)) static int reserved(int argc, char **argv, const char *usage) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  return cli_fail("%s: not implemented yet in this build", argv[0]);
}
